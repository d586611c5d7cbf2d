"""TensorFlow's start, without its start-up noise: the import, the devices, the thread pools.

On a machine without a GPU, importing TensorFlow prints lines such as `failed call to cuInit: …
UNKNOWN ERROR (303)` and `Could not find cuda drivers on your machine` from its C++ logging, which
writes to the process's stderr before `TF_CPP_MIN_LOG_LEVEL` is read. To a student they read like a
failure. `start` imports TensorFlow and Keras and finds the devices with file descriptor 2 pointed
at a temporary file, then passes on every line that is not one of those known start-up messages.
`-v` (or `LABREPORT_TF_LOGS=1`) leaves TensorFlow's messages alone.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

from labreport.core import __version__

VERBOSE_ENV = "LABREPORT_TF_LOGS"

# TensorFlow's start-up messages: absl's preamble; lines from the files that probe CUDA and the CPU's
# features, in absl's format (`E0000 00:00:1795855417.679678 26663 cuda_platform.cc:52] …`, TF 2.21)
# or TensorFlow's own (`2026-11-28 08:49:35.366634: E external/…/cuda_fft.cc:477] …`, TF 2.20);
# and the CPU-features advice.
_PROBES = (r"(port|cudart_stub|cuda_platform|cuda_executor|cuda_driver|cuda_diagnostics|cuda_dnn|cuda_fft|cuda_blas"
           r"|cpu_feature_guard|gpu_device|computation_placer)\.cc:\d+\] .*")
START_UP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ " + _PROBES +
    r"|\d{4}-\d\d-\d\d [\d:.]+: [IWE] (\S+/)?" + _PROBES +
    r"|To enable the following instructions: .*"
    r"|\S.* rebuild TensorFlow with the appropriate compiler flags\.)$"
)


def verbose() -> bool:
    """Whether TensorFlow's own messages are wanted (`-v` sets LABREPORT_TF_LOGS=1)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_environment() -> None:
    """Sets TensorFlow's log level before it is imported: warnings and errors only, everything with -v."""
    if verbose():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def start_up_noise_filtered() -> Iterator[None]:
    """Holds what is written to file descriptor 2 in the block; passes on all but TensorFlow's start-up noise."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", errors="replace").splitlines():
                if line.strip() and not START_UP_NOISE.match(line):
                    print(line, file=sys.stderr)


def start() -> str:
    """Imports TensorFlow and Keras and finds the devices, quietly; returns where the models train."""
    quiet_environment()
    with start_up_noise_filtered():
        import keras  # noqa: F401 - its backend imports TensorFlow
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe (cuInit) happens here
        device = training_device()
    return device


def training_device() -> str:
    """Where Keras places the models: "GPU:0 (its name)" when TensorFlow sees a GPU, else "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except Exception:  # details are optional; the device is still the one used
        name = ""
    return "GPU:0" + (f" ({name})" if name else "")


def environment(started_at: str, wall_seconds: float, command: str, threads: dict) -> dict:
    """The record's `environment`: library versions, the machine, TensorFlow's threads, the command."""
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        import tensorflow_datasets as tfds

        tfds_version = tfds.__version__
    except Exception:  # tfds is optional for reading a local archive
        tfds_version = None
    from labreport.core.machine import cpu_name

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_datasets": tfds_version,
        "numpy": np.__version__,
        "labreport": __version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "threads": threads,
        "started_at": started_at,
        "wall_seconds": round(wall_seconds, 2),
        "command": command,
    }
