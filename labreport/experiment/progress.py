"""Progress while training: plain lines on stderr, and on a terminal one line per batch redrawn in place."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Callable

from labreport.core.config import Config

Progress = Callable[[str], None]


def to_stderr(message: str) -> None:
    """The default progress: one line on stderr, flushed at once (a log file sees it as it happens)."""
    print(message, file=sys.stderr, flush=True)


class progress_bar:  # noqa: N801 - used like a function: None when there is no terminal to draw on
    """A per-batch progress line on stderr: epoch, batches done, running loss and accuracy, time left.

    Drawn only when stderr is a terminal and progress is shown at all: in a pipe or a log file, and
    with `--quiet`, training prints its epoch lines only. The line is redrawn in place (carriage
    return) at most five times a second and cleared before the epoch's own line is printed.
    """

    REDRAW_SECONDS = 0.2

    def __new__(cls, model_name: str, config: Config, total: int, progress: Progress):
        if progress is not to_stderr or not sys.stderr.isatty():
            return None
        return super().__new__(cls)

    def __init__(self, model_name: str, config: Config, total: int, progress: Progress):
        self.model_name, self.epochs, self.total = model_name, config.train.epochs, max(total, 1)
        self.epoch, self.started, self.drawn, self.width = -1, 0.0, 0.0, 0

    def __call__(self, epoch: int, done: int, running: dict) -> None:
        now = time.perf_counter()
        if epoch != self.epoch:
            self.epoch, self.started = epoch, now
        if now - self.drawn < self.REDRAW_SECONDS and done < self.total:
            return
        self.drawn = now
        filled = int(20 * done / self.total)
        left = (now - self.started) / done * (self.total - done)
        line = (f"  {self.model_name} epoch {epoch + 1}/{self.epochs} [{'#' * filled}{'.' * (20 - filled)}] "
                f"{done}/{self.total} batches, loss {running['loss']:.4f}, accuracy {running['accuracy']:.4f}, "
                f"{left:.0f} s left")
        columns = shutil.get_terminal_size().columns - 1
        line = line[:columns]
        sys.stderr.write("\r" + line + " " * max(0, self.width - len(line)))
        sys.stderr.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0
