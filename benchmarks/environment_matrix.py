"""The environment matrix: labreport's fast tests under several Pythons and start methods, and the
compiled loops' build ladder with each C++ compiler, as one Markdown table for benchmarks/RESULTS.md.

    python benchmarks/environment_matrix.py                        # pyenv's 3.10 and 3.13, spawn and forkserver
    python benchmarks/environment_matrix.py --pythons /usr/bin/python3.12 --start-methods spawn
    python benchmarks/environment_matrix.py --skip-tests           # the build ladder only

For each Python it makes a virtual environment under `--venvs` (once; `pip install -e ".[test]"`
there needs the package index and takes minutes, TensorFlow included) and runs the fast tests
(`-m "not training"`, one process) once per start method. The start method is set for the whole
test process (`multiprocessing.set_start_method`): the notebook tests' scripts and anything else that starts
processes through multiprocessing use it (labreport's render workers are its own entry point and
start the same way under every method). For each compiler it
loads the compiled loops into a fresh private cache in a child process and reports the rung of the
ladder that built (`labreport.experiment.kernels.targets()`): that is a real build, about half a
minute to a minute per compiler on two cores.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYENV_PATTERNS = ("~/.pyenv/versions/3.10.*/bin/python", "~/.pyenv/versions/3.13.*/bin/python")
START_METHODS = ("spawn", "forkserver")
COMPILERS = ("g++", "clang++")
TEST_TIMEOUT_SECONDS = 3600

RUNNER = """
import multiprocessing, sys
method = sys.argv[1]
multiprocessing.set_start_method(method, force=True)
try:
    import labreport.report.workers as workers
    if hasattr(workers, "start_method"):
        workers.start_method = lambda: method
except ImportError:
    pass
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""

LADDER = """
import sys
from pathlib import Path
from labreport.experiment import kernels
loaded = kernels.load(Path(sys.argv[1]), sys.argv[2])
facts = loaded.build_facts()
print("RESULT", facts["target"] or "-", facts["reason"] or "-", loaded.note.replace("\\n", " ")[:200])
"""


def pythons(given: list[str] | None) -> list[str]:
    if given:
        return given
    found = []
    for pattern in PYENV_PATTERNS:
        found += sorted(glob.glob(os.path.expanduser(pattern)))[-1:]
    return found


def python_version(python: str) -> str:
    return subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                          text=True, check=True).stdout.strip()


def environment(python: str, venvs: Path) -> Path:
    """A virtual environment for `python` with labreport and its test dependencies (made once)."""
    folder = venvs / f"py{python_version(python)}"
    interpreter, ready = folder / "bin" / "python", folder / "labreport-matrix-ready"
    if not ready.exists():  # an install stopped halfway is made again
        subprocess.run([python, "-m", "venv", "--clear", str(folder)], check=True)
        # The pip Python 3.10 ships (23.0) backtracks for over 13 minutes on this dependency set; pip 26
        # resolves it in about a minute and a half, as the README tells 3.10 users to do.
        subprocess.run([str(interpreter), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(interpreter), "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"], check=True)
        ready.touch()
    return interpreter


def run_tests(interpreter: Path, method: str, paths: list[str]) -> tuple[str, float]:
    """The fast tests in `paths` under `interpreter` with `method`; their summary line and wall seconds."""
    start = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    arguments = ["-m", "not training", "-q", "-rf", "-n", "0", "-p", "no:cacheprovider", *(str(ROOT / path) for path in paths)]
    try:
        result = subprocess.run([str(interpreter), "-c", RUNNER, method, *arguments], capture_output=True, text=True,
                                cwd=ROOT, env=env, timeout=TEST_TIMEOUT_SECONDS)
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        summary = lines[-1].strip("= ") if lines else f"exit status {result.returncode}"
        failed = [line.split(" ", 1)[1].split(" - ")[0] for line in lines if line.startswith("FAILED ")]
        if failed:  # which ones, so that the table says what to look at
            summary += " (" + ", ".join(failed) + ")"
    except subprocess.TimeoutExpired:
        summary = f"over {TEST_TIMEOUT_SECONDS} s"
    return summary, time.monotonic() - start


def ladder(interpreter: str, compiler: str) -> str:
    """The rung the compiled loops build for with `compiler`, in a fresh private cache."""
    with tempfile.TemporaryDirectory(prefix="labreport-matrix-") as cache:
        result = subprocess.run([interpreter, "-c", textwrap.dedent(LADDER), str(Path(cache) / "kernels"), compiler],
                                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                                      "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=1800)
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        return f"no result (exit status {result.returncode})"
    _, target, reason, note = line.split(" ", 3)
    return f"`{target}`" + (f" ({reason})" if reason != "-" else "") if target != "-" else f"none ({reason}): {note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pythons", nargs="+", help="interpreters (default: pyenv's newest 3.10 and 3.13)")
    parser.add_argument("--start-methods", nargs="+", default=list(START_METHODS))
    parser.add_argument("--compilers", nargs="*", default=list(COMPILERS), help="none: no build ladder")
    parser.add_argument("--tests", nargs="+", default=["tests"], help="test paths (default: the whole fast suite)")
    parser.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "labreport-matrix-venvs")
    parser.add_argument("--skip-tests", action="store_true", help="only the build ladder")
    args = parser.parse_args(argv)

    print(f"Machine: {platform.machine()}, {platform.platform()}; {os.cpu_count()} cores\n")
    if not args.skip_tests:
        print("| Python | start method | fast tests | wall |\n|---|---|---|---|")
        for python in pythons(args.pythons):
            interpreter = environment(python, args.venvs)
            for method in args.start_methods:
                summary, seconds = run_tests(interpreter, method, args.tests)
                print(f"| {python_version(python)} | {method} | {summary} | {seconds / 60:.1f} min |", flush=True)
        print()
    if args.compilers:
        print("| compiler | the ladder built |\n|---|---|")
    for compiler in args.compilers:
        found = shutil.which(compiler)
        print(f"| {compiler} | {ladder(sys.executable, found) if found else 'not installed'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
