"""Reports rendered side by side in worker processes that end with their parent: the languages of
one record (`render_record`), or every language of many records, as a course site renders a class
(`render_records`)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

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

    Languages render in parallel processes when there are cores for them (`render_records`).

    Raises:
        The first failed language's error.
    """
    [results] = render_records([(record, languages, formats, user_templates, notes, figure_files)])
    if isinstance(results, BaseException):
        raise results
    return results


class RendererStopped(Exception):
    """The worker process rendering a page ended without a result (a crash in a native library)."""


def render_records(jobs: list[tuple], done: Callable[[int], None] | None = None) -> list[list[tuple] | BaseException]:
    """Many validated records, every language of each, on every core: each job's results or its error.

    Args:
        jobs: (record, languages, formats, user templates, {lang: notes sections}, figure file
            formats) each.
        done: called with a job's index when all its languages are rendered (or one failed).

    Returns:
        Per job, in order: the list `render_record` returns, or the exception that stopped one of
        its languages; one job's error never stops another's.

    One (record, language) per task, so a site in one language still uses every core. A worker that
    dies takes every unfinished task with it, and the pool cannot tell which page killed it: those
    are rendered again in a fresh pool, and what that loses too one at a time, each in a pool of its
    own, so only a page that crashes its renderer fails (`RendererStopped`).
    """
    tasks = [(job, (record, lang, formats, user_templates, notes.get(lang), figure_files))
             for job, (record, languages, formats, user_templates, notes, figure_files) in enumerate(jobs)
             for lang in languages]
    results: dict[int, tuple | BaseException] = {}
    left = {job: len(jobs[job][1]) for job in range(len(jobs))}

    def finished(task: int, result: tuple | BaseException) -> None:
        results[task] = result
        job = tasks[task][0]
        left[job] = 0 if isinstance(result, BaseException) else left[job] - 1
        if left[job] == 0:
            left[job] = -1  # reported once
            if done is not None:
                done(job)

    cores = min(len(tasks), os.cpu_count() or 1)
    if cores <= 1:
        for task, (_, arguments) in enumerate(tasks):
            try:
                finished(task, _render_language(*arguments))
            except Exception as error:  # this page only
                finished(task, error)
    else:
        stopped = _render_in_pool(tasks, range(len(tasks)), cores, finished)
        if len(stopped) > 1:  # once more together: most deaths are not a page's own (the OOM killer, a kill)
            stopped = _render_in_pool(tasks, stopped, min(cores, len(stopped)), finished)
        for task in stopped:  # alone now: a crash here is this page's own
            if _render_in_pool(tasks, [task], 1, finished):
                finished(task, RendererStopped("its renderer stopped without a result (a crash while rendering)"))
    outcome: list[list[tuple] | BaseException] = [[] for _ in jobs]
    for task in range(len(tasks)):
        job, result = tasks[task][0], results[task]
        if isinstance(outcome[job], list):
            outcome[job] = result if isinstance(result, BaseException) else [*outcome[job], result]
    return outcome


def _render_in_pool(tasks: list[tuple], chosen, cores: int, finished: Callable) -> list[int]:
    """Renders the `chosen` tasks in a pool of `cores` workers; returns those its broken pool took with it."""
    context = multiprocessing.get_context(start_method())
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=cores, mp_context=context,
                                                  initializer=end_with_parent, initargs=(os.getpid(),))
    stopped = []
    try:
        futures = {pool.submit(_render_language, *tasks[task][1]): task for task in chosen}
        for future in concurrent.futures.as_completed(futures):
            task = futures[future]
            try:
                finished(task, future.result())
            except BrokenProcessPool:
                stopped.append(task)
            except Exception as error:  # this page only
                finished(task, error)
    except BaseException:  # Ctrl-C: stop the workers now, not after their page
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return sorted(stopped)
