"""scripts/compile_targets.py: the table of which compiler compiles the kernel source for which target."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("compile_targets", ROOT / "scripts" / "compile_targets.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fake_compiler(path: Path) -> str:
    """A compiler that knows no znver4, trips on AVX512-FP16 as g++ 12 does, and compiles the rest."""
    path.write_text(f"""#!{sys.executable}
import sys
arguments = sys.argv[1:]
if arguments == ["--version"]:
    print("fake-c++ 1.0"); sys.exit(0)
if "-march=znver4" in arguments:
    sys.stderr.write("cc1plus: error: bad value 'znver4' for '-march=' switch\\n"); sys.exit(1)
if "-march=native" in arguments and "-mno-avx512fp16" not in arguments:
    sys.stderr.write("In file included from x.h:1:\\n/venv/tensorflow/include/Eigen/src/Core/arch/AVX512/"
                     "PacketMathFP16.h:740:49: error: expected initializer before '<' token\\n"); sys.exit(1)
""")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_each_target_is_a_row_and_each_refusal_its_first_error(tmp_path):
    script = load_script()
    compiler = fake_compiler(tmp_path / "fake-c++")
    targets = ["native", "native -mno-avx512fp16", "znver4"]
    outcomes = [script.check(compiler, target, tmp_path / "source.cc", []) for target in targets]
    assert [outcome.compiled for outcome in outcomes] == [False, True, False]
    lines = script.table(outcomes, [compiler]).splitlines()
    assert lines[0] == "| target | fake-c++ 1.0 |"
    assert lines[2] == ("| `native` | **refused**: `Eigen/src/Core/arch/AVX512/PacketMathFP16.h:740:49: error: "
                        "expected initializer before '<' token` |")
    assert lines[3].startswith("| `native -mno-avx512fp16` | compiles (")
    assert lines[4] == "| `znver4` | **refused**: `cc1plus: error: bad value 'znver4' for '-march=' switch` |"
