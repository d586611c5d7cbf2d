"""Compiles labreport's compiled loops (`recurrent_loops.cc`) against TensorFlow's headers for several
CPU targets with each C++ compiler found, and prints a Markdown table of what each pair does.

    python scripts/compile_targets.py                     # g++ and clang++, the default targets
    python scripts/compile_targets.py --compilers g++ --targets x86-64-v3 native

The kernels' build ladder (`labreport.experiment.kernels.targets()`) climbs down from the CPU's own
target to portable ones when a compiler refuses one; this check shows, for one machine, which pairs
of compiler and target compile at all (a refusal is the first error line). It compiles only
(`-fsyntax-only`, about ten seconds a pair on one core): code generation for a target the compiler
knows does not fail where the front end passed, and a target this CPU cannot run cannot be loaded
here anyway. Results for this repository's machines are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = ("native", "native -mno-avx512fp16", "x86-64-v2", "x86-64-v3", "x86-64-v4", "sapphirerapids",
           "sapphirerapids -mno-avx512fp16", "znver4")
"""Each an `-march=` value, optionally followed by further flags (the ladder's second rung drops AVX512-FP16)."""
COMPILERS = ("g++", "clang++")
PAIR_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Outcome:
    """One compiler and target: `compiled`, the wall `seconds`, and `detail`, the first error line."""

    compiler: str
    target: str
    compiled: bool
    seconds: float
    detail: str = ""


def syntax_command(compiler: str, target: str, source: Path, compile_flags: list[str]) -> list[str]:
    """The front end's check of `source` for `-march=target` (and the flags after it) with TensorFlow's
    flags: what the build compiles, without code generation or linking."""
    march, *extra = target.split()
    return [compiler, "-std=c++17", "-fsyntax-only", "-O3", f"-march={march}", *extra, "-w", str(source),
            *compile_flags]


def first_error(output: str) -> str:
    """The compiler's first line that says error (or its first line), shortened to one table cell."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = next((line for line in lines if "error" in line), lines[0] if lines else "")
    if "/include/Eigen/" in line:  # TensorFlow's copy of Eigen: its path says nothing the name does not
        line = "Eigen/" + line.split("/include/Eigen/", 1)[1]
    line = line.replace("|", "\\|")
    return line[:160]


def check(compiler: str, target: str, source: Path, compile_flags: list[str]) -> Outcome:
    start = time.monotonic()
    try:
        result = subprocess.run(syntax_command(compiler, target, source, compile_flags), capture_output=True,
                                text=True, errors="replace", timeout=PAIR_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return Outcome(compiler, target, False, time.monotonic() - start, f"over {PAIR_TIMEOUT_SECONDS} s")
    seconds = time.monotonic() - start
    if result.returncode == 0:
        return Outcome(compiler, target, True, seconds)
    return Outcome(compiler, target, False, seconds, first_error(result.stderr + result.stdout))


def version(compiler: str) -> str:
    try:
        output = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return compiler
    return output.splitlines()[0].strip() if output else compiler


def table(outcomes: list[Outcome], compilers: list[str]) -> str:
    """Markdown: one row per target, one column per compiler; each cell "compiles (N s)" or the refusal."""
    header = "| target | " + " | ".join(f"{version(compiler)}" for compiler in compilers) + " |"
    lines = [header, "|---" * (len(compilers) + 1) + "|"]
    for target in dict.fromkeys(outcome.target for outcome in outcomes):
        cells = []
        for compiler in compilers:
            found = next(o for o in outcomes if o.compiler == compiler and o.target == target)
            cells.append(f"compiles ({found.seconds:.0f} s)" if found.compiled else f"**refused**: `{found.detail}`")
        lines.append(f"| `{target}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compilers", nargs="+", default=list(COMPILERS))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    args = parser.parse_args(argv)

    import tensorflow as tf

    from labreport.core.machine import cpu_name
    from labreport.experiment import kernels

    compilers = [compiler for compiler in args.compilers if shutil.which(compiler)]
    missing = sorted(set(args.compilers) - set(compilers))
    outcomes = [check(compiler, target, kernels.SOURCE, tf.sysconfig.get_compile_flags())
                for compiler in compilers for target in args.targets]
    print(f"Machine: {cpu_name()} ({platform.machine()}), Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}" + (f"; not installed here: {', '.join(missing)}" if missing else ""))
    print()
    print(table(outcomes, compilers) if compilers else "No compiler found.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
