"""The languages of a report rendered side by side, one worker process each, that end with their parent."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from pathlib import Path

from labreport.report.render import _render_language


def start_method() -> str:
    """How to start the language workers: fork is fastest, but not from a process whose TensorFlow
    runtime has started its threads (`build` renders right after training), where only spawn is safe."""
    if "tensorflow" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    return "fork"


def end_with_parent(parent: int) -> None:
    """Makes a render worker end when the process that started it does, however it ends (SIGKILL too).

    On Linux the kernel sends the worker SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`);
    everywhere a daemon thread also checks once a second that the parent is still the one that
    started the worker, and exits when it is not (a parent that died before prctl took effect).
    """
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="labreport-parent-watch", daemon=True).start()


def render_record(record: dict, languages: list[str], formats: tuple[str, ...], user_templates: str | Path | None,
                  notes: dict[str, list], figure_files: tuple[str, ...] = ()) -> list[tuple]:
    """Every language of a validated record, in memory: (lang, html, pdf, figure files, why no PDF) each.

    Languages render in parallel processes when there are cores for them.
    """
    jobs = [(record, lang, formats, user_templates, notes.get(lang), figure_files) for lang in languages]
    if len(jobs) <= 1 or (os.cpu_count() or 1) <= 1:
        return [_render_language(*job) for job in jobs]
    context = multiprocessing.get_context(start_method())
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=len(jobs), mp_context=context,
                                                  initializer=end_with_parent, initargs=(os.getpid(),))
    try:
        results = list(pool.map(_render_language, *zip(*jobs)))
    except BaseException:  # Ctrl-C or a failed language: stop the other workers now, not after their page
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
