"""SIGTERM and SIGINT as one clean stop: a KeyboardInterrupt, raised once, that cannot be lost.

Python runs a signal handler between any two bytecodes of the main thread, finalizers (`__del__`,
weak-reference callbacks) included; an exception raised there is printed as "Exception ignored",
with a traceback, and the program goes on. SIGTERM as a model started training (Keras and TensorFlow
free objects as a model is built) was ignored, or a traceback, twice in twenty tries. So:

- a KeyboardInterrupt a finalizer swallows is never printed, and is raised again in the main
  thread's own code (`sys.unraisablehook`, then `_thread.interrupt_main` from a timer thread);
- once the stop is under way (cleaning up, writing its line), a further signal within
  `QUIET_SECONDS` does not interrupt it; one after that stops the cleanup too, as a user who insists
  expects.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from typing import Iterator

QUIET_SECONDS = 5.0
"""After a stop begins, further signals are ignored for this long."""
SIGNALS = (signal.SIGTERM, signal.SIGINT)
RETRY_SECONDS = 0.01
"""How soon a KeyboardInterrupt a finalizer swallowed is raised again."""

_raised_at: float | None = None


def stopping() -> bool:
    """Whether a signal has asked this command to stop."""
    return _raised_at is not None


def _handler(signum, frame) -> None:
    global _raised_at
    if _raised_at is not None and time.monotonic() - _raised_at < QUIET_SECONDS:
        return
    _raised_at = time.monotonic()
    raise KeyboardInterrupt  # `kill`, a batch system's time limit: the same clean stop as Ctrl-C


def _unraisable(report) -> None:
    global _raised_at
    if isinstance(report.exc_value, KeyboardInterrupt) and _raised_at is not None:
        import _thread
        import threading

        _raised_at = None
        # The handler runs again once the finalizer has returned (called from here, it would run inside it).
        later = threading.Timer(RETRY_SECONDS, _thread.interrupt_main, (signal.SIGTERM,))
        later.daemon = True
        later.start()
        return
    sys.__unraisablehook__(report)


def begin_stop() -> None:
    """Marks the stop as under way: signals in the next `QUIET_SECONDS` do not interrupt it."""
    global _raised_at
    _raised_at = time.monotonic()


@contextmanager
def signals_stop_cleanly() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise KeyboardInterrupt once, in the main thread's code.

    Call it from the main thread only (signals reach no other).
    """
    global _raised_at
    _raised_at = None
    previous = {number: signal.signal(number, _handler) for number in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    try:
        yield
    finally:
        begin_stop()  # a signal now is too late to stop anything
        for number, handler in previous.items():
            signal.signal(number, handler)
        sys.unraisablehook = previous_hook
