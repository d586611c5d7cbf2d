"""Reports rendered side by side in worker processes that end with their parent: the languages of
one record (`render_record`), or every language of many records, as a course site renders a class
(`render_records`).

A worker is a fresh interpreter started as labreport's own entry point (`serve`), which speaks to
its parent over its standard input and output. It never imports the user's main module, which
multiprocessing's `spawn` and `forkserver` do: a plain script calling `labreport.build` without an
`if __name__ == "__main__":` guard would run again in every worker (and stop at the output folder's
lock). Nor is it forked from the parent, which is not safe once TensorFlow's threads run (`build`
renders right after training).
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from typing import Callable

from labreport.report.exporters import render_language
from labreport.report.formats import LanguageResult

# The worker's first lines: the parent's import path (where it found labreport and the libraries), then
# `serve`. Passed with -c, so the worker runs no file of the user's.
_BOOT = "import sys; sys.path[:0] = [p for p in sys.argv[2:] if p not in sys.path]; " \
        "from labreport.report.workers import serve; serve(int(sys.argv[1]))"


def end_with_parent(parent: int) -> None:
    """Makes a render worker end when the process that started it does, however it ends (SIGKILL too).

    On Linux the kernel sends the worker SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`);
    everywhere a daemon thread also checks once a second that the parent is still the one that
    started the worker, and exits when it is not (a parent that died before prctl took effect).
    """
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


def serve(parent: int) -> None:
    """A render worker's loop: reads pickled `render_language` arguments from standard input until it
    closes, writes back ("ok", result) or ("error", exception) for each.

    Its parent stops it (it ignores Ctrl-C, which a terminal sends to the whole process group); what
    the rendering libraries print goes to standard error, never into the answers.
    """
    import signal

    end_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    tasks = sys.stdin.buffer
    while True:
        try:
            arguments = pickle.load(tasks)
        except EOFError:
            return
        try:
            message = pickle.dumps(("ok", render_language(*arguments), None))
        except Exception as error:  # this page only
            message = pickle.dumps(("error", _portable(error), traceback.format_exc()))
        answers.write(message)
        answers.flush()


def _portable(error: Exception) -> Exception:
    """`error` if it survives pickling both ways, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


class RemoteTraceback(Exception):
    """Where a worker's error was raised: its traceback, as the error's cause."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


class WorkerStopped(Exception):
    """The worker process ended before it answered (killed, or a crash in a native library)."""


class Worker:
    """One render worker process (`serve`), which renders one page at a time."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", _BOOT, str(os.getpid()), *sys.path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def render(self, arguments: tuple) -> tuple:
        """`render_language(*arguments)` in the worker: its result, or the error it raised.

        Raises:
            WorkerStopped: the worker ended before it answered.
        """
        try:
            pickle.dump(arguments, self.process.stdin)
            self.process.stdin.flush()
            kind, value, where = pickle.load(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            raise WorkerStopped() from error
        if kind == "error":
            raise value from RemoteTraceback(where)
        return value

    def close(self) -> None:
        """Lets the worker finish (it ends when its input closes), or kills it if it does not."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process.stdout.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:  # the unsent rest of a page to a dead worker
                pass


def render_record(record: dict, languages: list[str], formats: tuple[str, ...], user_templates,
                  notes: dict[str, list], figure_files: tuple[str, ...] = (),
                  run_files: dict[str, bytes] | None = None) -> list[LanguageResult]:
    """Every language of a validated record, in memory: a `LanguageResult` (outputs by format, figure files, formats skipped) each.

    Languages render in parallel processes when there are cores for them (`render_records`).

    Raises:
        The first failed language's error.
    """
    [results] = render_records([(record, languages, formats, user_templates, notes, figure_files, run_files)])
    if isinstance(results, BaseException):
        raise results
    return results


class RendererStopped(Exception):
    """The worker process rendering a page ended without a result (a crash in a native library)."""


def render_records(jobs: list[tuple], done: Callable[[int], None] | None = None) -> list[list[LanguageResult] | BaseException]:
    """Many validated records, every language of each, on every core: each job's results or its error.

    Args:
        jobs: (record, languages, formats, user templates, {lang: notes sections}, figure file
            formats, the run's files the PDF carries or None) each.
        done: called with a job's index when all its languages are rendered (or one failed).

    Returns:
        Per job, in order: the list `render_record` returns, or the exception that stopped one of
        its languages; one job's error never stops another's.

    One (record, language) per task, so a site in one language still uses every core. A worker that
    dies costs only the page it was rendering, which is rendered once more after the others in a
    fresh worker, so only a page that crashes its renderer twice fails (`RendererStopped`); most
    deaths are not a page's own (the OOM killer, a kill).
    """
    tasks = [(job, (record, lang, formats, user_templates, notes.get(lang), figure_files, run_files))
             for job, (record, languages, formats, user_templates, notes, figure_files, run_files) in enumerate(jobs)
             for lang in languages]
    results: dict[int, LanguageResult | BaseException] = {}
    left = {job: len(jobs[job][1]) for job in range(len(jobs))}

    def finished(task: int, result: LanguageResult | BaseException) -> None:
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
                finished(task, render_language(*arguments))
            except Exception as error:  # this page only
                finished(task, error)
    else:
        stopped = _render_in_workers(tasks, range(len(tasks)), cores, finished)
        for task in _render_in_workers(tasks, stopped, 1, finished):  # once more, one page at a time
            finished(task, RendererStopped("its renderer stopped without a result (a crash while rendering)"))
    outcome: list[list[LanguageResult] | BaseException] = [[] for _ in jobs]
    for task in range(len(tasks)):
        job, result = tasks[task][0], results[task]
        if isinstance(outcome[job], list):
            outcome[job] = result if isinstance(result, BaseException) else [*outcome[job], result]
    return outcome


def _render_in_workers(tasks: list[tuple], chosen, cores: int, finished: Callable) -> list[int]:
    """Renders the `chosen` tasks in `cores` workers; returns those whose worker died while rendering them.

    Each worker is fed by a thread of its own; the results come back to this thread, which calls
    `finished` (so a caller's `done` runs where the caller does). A dead worker is replaced by a fresh
    one for the pages still waiting.
    """
    waiting: queue.SimpleQueue = queue.SimpleQueue()
    for task in chosen:
        waiting.put(task)
    answers: queue.SimpleQueue = queue.SimpleQueue()
    running: set[Worker] = set()
    lock, stopping = threading.Lock(), threading.Event()

    def feed() -> None:
        worker = None
        try:
            while not stopping.is_set():
                try:
                    task = waiting.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    with lock:
                        if stopping.is_set():
                            answers.put((task, WorkerStopped()))
                            return
                        worker = Worker()
                        running.add(worker)
                try:
                    answers.put((task, worker.render(tasks[task][1])))
                except WorkerStopped as error:
                    answers.put((task, error))
                    with lock:
                        running.discard(worker)
                    worker.kill()
                    worker = None
                except Exception as error:  # this page only
                    answers.put((task, error))
        except BaseException as error:  # a worker that could not start: no page can be rendered
            answers.put((None, error))
        finally:
            if worker is not None:
                with lock:
                    running.discard(worker)
                worker.close()

    feeders = [threading.Thread(target=feed, name="labreport-render-feed", daemon=True) for _ in range(cores)]
    stopped, count = [], len(list(chosen))
    try:
        for feeder in feeders:
            feeder.start()
        while count:
            try:
                task, result = answers.get(timeout=0.5)  # a timeout keeps Ctrl-C prompt on every platform
            except queue.Empty:
                continue
            if task is None:
                raise result
            count -= 1
            if isinstance(result, WorkerStopped):
                stopped.append(task)
            else:
                finished(task, result)
    except BaseException:  # Ctrl-C: stop the workers now, not after their page
        stopping.set()
        with lock:
            for worker in list(running):
                worker.process.kill()
        raise
    finally:
        for feeder in feeders:
            feeder.join()
    return sorted(stopped)
