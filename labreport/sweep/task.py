"""One run of a sweep, as it runs on a Ray worker: `labreport train` on data the driver prepared.

The worker needs no copy of the data and no shared file system: the prepared splits arrive through
Ray's object store, the run is written into a temporary folder exactly as `labreport train` writes
it, and its files go back to the driver as bytes, which writes them (`labreport.sweep.driver`).
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from labreport.core import LabreportError
from labreport.core.config import Config

RETURNED = ("results.json", "predictions.npz", "history")
"""What a run sends back; `models` too with `--keep-models`."""


def limit_threads(cpus: int) -> dict:
    """Sets TensorFlow's intra- and inter-op pools to `cpus` and starts its runtime with them.

    Ray's CPUs are logical: without this, each run's TensorFlow would use every core of the machine
    and the runs would fight over them. The runtime is started here, so `train`'s own setting of the
    pools (for a machine of its own) finds them fixed and keeps them; a worker Ray reuses for a
    later run keeps them too.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from labreport.experiment import runtime

    runtime.start()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # an earlier run in this worker started the runtime with these pools
    tf.constant(0)
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def _stand_in_corpus(prepared):
    """The corpus `train.run` is given beside the prepared data: it names the data, and its test
    split keys the temporary partial folder; the training texts stay with the driver."""
    from labreport.experiment import corpus as corpus_module

    return corpus_module.Corpus(train=corpus_module.Split([], np.zeros(0, dtype=np.int32)),
                                test=corpus_module.Split(prepared.test.texts, prepared.test.y),
                                source=prepared.stats["source"], location=prepared.stats["location"])


def run_files(folder: Path, keep_models: bool) -> dict[str, bytes]:
    """The run's files under `folder`, {relative POSIX path: bytes}; hidden files (the lock) are not the run's."""
    wanted = RETURNED + (("models",) if keep_models else ())
    files = {}
    for top in wanted:
        path = folder / top
        paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        for item in paths:
            if not any(part.startswith(".") for part in item.relative_to(folder).parts):
                files[item.relative_to(folder).as_posix()] = item.read_bytes()
    return files


def train_run(config: Config, prepared, command: str, keep_models: bool, cpus: int, fail: str | None = None) -> dict:
    """Trains one run on a worker and returns its files.

    Args:
        config: the run's checked configuration (one seed).
        prepared: its data, split and encoded by the driver (`labreport.experiment.prepare.Prepared`).
        command: the `labreport train` command that reproduces the run, for its record.
        keep_models: also return the trained models (`models/`).
        cpus: the Ray CPUs the task holds: TensorFlow's thread pools.
        fail: raise this instead of training (`LABREPORT_SWEEP_FAIL`, see `labreport.sweep.driver`).

    Returns:
        {"files": {path: bytes}, "log": progress lines, "host", "pid", "seconds", "threads"}.
    """
    started = time.perf_counter()
    threads = limit_threads(cpus)
    if fail:
        raise LabreportError(fail)
    from labreport.experiment import train

    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="labreport-sweep-") as folder:
        out = Path(folder) / "run"
        try:
            train.run(config, _stand_in_corpus(prepared), out, progress=log.append, command=command, prepared=prepared)
        except LabreportError as error:
            raise LabreportError(f"{error} (while: {log[-1].strip() if log else 'starting'})") from None
        files = run_files(out, keep_models)
    return {"files": files, "log": log, "host": socket.gethostname(), "pid": os.getpid(),
            "seconds": round(time.perf_counter() - started, 2), "threads": threads}
