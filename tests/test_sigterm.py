"""SIGTERM at any moment of a quick training run: exit status 130 and one line, never a traceback.

Twice in about twenty tries, SIGTERM at the instant a model started training was ignored or became a
traceback: the KeyboardInterrupt the handler raises landed in a finalizer (Keras and TensorFlow free
objects as a model is built), where Python reports it as "Exception ignored" and goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

INTERRUPTED = "labreport: interrupted; files already written are complete and were kept"


def start_training(tmp_path):
    return subprocess.Popen(
        [sys.executable, "-m", "labreport", "train", "--quick", "--epochs", "1", "--models", "gru",
         "--max-length", "32", "--vocab-size", "500", "--hidden-units", "4", "--embedding-dim", "4",
         "--out", str(tmp_path / "out")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.training
@pytest.mark.parametrize("after", [0.0, 0.02, 0.1, 0.3, 1.0])
def test_sigterm_as_a_model_starts_training_is_one_line_and_130(tmp_path, after):
    process = start_training(tmp_path)
    seen = []
    try:
        for line in process.stderr:  # the moment labreport says a model starts training
            seen.append(line)
            if line.startswith("training "):
                break
        time.sleep(after)
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=120)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = "".join(seen) + rest
    if process.returncode == 0:
        pytest.skip(f"the run finished within {after} s of its start, before the signal")  # nothing to stop
    assert process.returncode == 130, stderr[-3000:]
    assert stderr.rstrip("\n").splitlines()[-1] == INTERRUPTED, stderr[-3000:]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]


# The races made deterministic: a command of a few lines, put in the place of `schema`, sends the
# signal at the moment under test, through labreport's own `main`.
RACE = """
import os, signal, sys, time
from labreport import cli

MOMENT = sys.argv[1]


class Freed:
    def __del__(self):  # as Keras frees objects while a model is built
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs here, inside the finalizer


class SignalOnWrite:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        if "interrupted" in text:  # a second SIGTERM as the exit line is written
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def command(args):
    if MOMENT == "finalizer":
        Freed()
    if MOMENT == "twice":
        sys.stderr = SignalOnWrite(sys.stderr)
        os.kill(os.getpid(), signal.SIGTERM)
    if MOMENT == "converted":
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        except KeyboardInterrupt:  # a library that reports the interrupt as its own error
            raise RuntimeError("the library's own error") from None
    for _ in range(100):  # the rest of the command: what must not run on after the signal
        time.sleep(0.01)
    print("the command finished")
    return 0


cli.COMMANDS["schema"] = command
sys.exit(cli.main(["schema"]))
"""


@pytest.mark.parametrize("moment", ["finalizer", "twice", "converted"])
def test_a_signal_at_any_moment_is_one_line_and_130(tmp_path, moment):
    result = subprocess.run([sys.executable, "-c", RACE, moment], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", INTERRUPTED + "\n")
