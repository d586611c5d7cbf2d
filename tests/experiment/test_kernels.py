"""labreport.experiment.kernels builds the compiled loops once per machine, reuses the build, and where it cannot
build says so in one line and leaves training on the loops written as TensorFlow ops."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from labreport.core.config import load_config
from labreport.experiment import kernels, models

def script(path: Path, body: str) -> str:
    """An executable Python script standing in for a compiler; it logs its arguments to `path`.calls."""
    path.write_text(f"#!{sys.executable}\nimport sys, shutil\n"
                    f"open({str(path) + '.calls'!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def calls(compiler: str) -> list[str]:
    log = Path(compiler + ".calls")
    return log.read_text().splitlines() if log.exists() else []


def test_a_failed_build_says_why_keeps_its_log_and_is_not_tried_again(tmp_path):
    compiler = script(tmp_path / "broken-c++", "sys.stderr.write('recurrent_loops.cc:1: error: no headers\\n'); sys.exit(1)")
    cache = tmp_path / "cache"
    first = kernels.load(cache, compiler)
    assert first.library is None and first.path is None and first.reason == "build_failed"
    ladder = ", ".join(target.name for target in kernels.targets())
    assert f"did not build: broken-c++ refused every target ({ladder}; see " in first.note
    assert first.note.endswith("using the loops written as TensorFlow ops")
    logs = sorted(cache.glob("recurrent_loops-*.log"))
    assert len(logs) == len(kernels.targets())  # one log per rung of the ladder
    assert all("error: no headers" in log.read_text() for log in logs)
    assert any("-march=native" in log.read_text() for log in logs)
    assert sorted({p.suffix for p in cache.iterdir()}) == [".lock", ".log"]  # no half-built library left behind
    second = kernels.load(cache, compiler)
    assert second.library is None and "failed to build before for every target" in second.note
    assert len(calls(compiler)) == len(kernels.targets())  # the second load tried nothing


def test_a_compiler_that_refuses_the_native_target_ends_in_a_portable_build(tmp_path, compiled_loops):
    """The compiler refuses `-march=native` (as g++ 12 does on a CPU with AVX512-FP16) but builds the
    next rung: the library loads, and its note and facts name the fallback target and why."""
    built = compiled_loops
    compiler = script(tmp_path / "picky-c++", f"""
        if '-march=native' in sys.argv and '-mno-avx512fp16' not in sys.argv:
            sys.stderr.write('PacketMathFP16.h:740: error: expected initializer before <\\n'); sys.exit(1)
        shutil.copyfile({str(built.path)!r}, sys.argv[sys.argv.index('-o') + 1])
        """)
    program = f"""
        from pathlib import Path
        from labreport.experiment import kernels
        loaded = kernels.load(Path({str(tmp_path / 'cache')!r}), {compiler!r}, progress=print)
        print(loaded.library is not None, loaded.build_facts())
        print(loaded.note)
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    *_, facts, note = result.stdout.splitlines()
    second = kernels.targets()[1]
    assert facts == "True " + repr({"target": second.name, "flags": " ".join(second.flags), "compiler": "picky-c++",
                                    "reason": "native_refused"})
    (log,) = (tmp_path / "cache").glob("recurrent_loops-*.log")
    assert "PacketMathFP16.h:740" in log.read_text()
    assert f"built for {second.name}: picky-c++ refused this CPU's own target native (see {log})" in note
    assert len(calls(compiler)) == 2


def test_the_ladder_goes_from_the_cpu_s_own_target_to_what_it_surely_runs():
    sapphire_rapids = {"avx512_fp16", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma",
                       "bmi1", "bmi2", "f16c", "movbe", "abm", "sse4_2", "sse4_1", "ssse3", "popcnt", "cx16"}
    names = lambda ladder: [target.name for target in ladder]  # noqa: E731
    assert names(kernels.targets("x86_64", sapphire_rapids, "Linux")) == [
        "native", "native-no-avx512fp16", "x86-64-v4", "x86-64-v3", "x86-64-v2", "generic"]
    haswell = sapphire_rapids - {"avx512_fp16", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    assert names(kernels.targets("x86_64", haswell, "Linux")) == ["native", "x86-64-v3", "x86-64-v2", "generic"]
    assert names(kernels.targets("x86_64", set(), "Windows")) == ["native", "generic"]  # flags unknown: no level
    assert names(kernels.targets("aarch64", {"asimd", "fp"}, "Linux")) == ["native", "generic"]
    assert names(kernels.targets("arm64", set(), "Darwin")) == ["generic"]


def test_without_a_compiler_the_note_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no c++, g++ or clang++ here
    assert kernels.find_compiler() is None
    loaded = kernels.load(tmp_path / "cache")
    assert loaded.library is None and "no C++ compiler found (install g++ or set CXX)" in loaded.note
    assert not (tmp_path / "cache").exists()


def test_a_compiler_that_is_not_there_is_a_failed_build_not_a_crash(tmp_path):
    loaded = kernels.load(tmp_path / "cache", str(tmp_path / "no-such-c++"))
    assert loaded.library is None and "no-such-c++ not found" in loaded.note


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LABREPORT_CACHE_DIR", str(tmp_path / "mine"))
    assert kernels.cache_folder() == tmp_path / "mine" / "kernels"
    monkeypatch.delenv("LABREPORT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernels.cache_folder() == tmp_path / "xdg" / "labreport" / "kernels"


def test_training_falls_back_to_the_fused_loops_and_says_so_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", script(tmp_path / "broken-c++", "sys.exit(1)"))
    monkeypatch.setenv("LABREPORT_CACHE_DIR", str(tmp_path / "cache"))
    config = load_config(None, quick=True)
    said: list[str] = []
    assert models.recurrent_loop("gru", config, "CPU", said.append) == "fused"
    assert models.recurrent_loop("lstm", config, "CPU", said.append) == "fused"
    rungs = len(kernels.targets())  # one line per target tried, then why the compiled loops are off
    assert len(said) == rungs + 1 and all(line.startswith("compiling labreport's GRU and LSTM loops") for line in said[:-1])
    assert said[-1].startswith("WARNING: labreport's compiled loops are off, so the GRU and the LSTM train on the "
                              "slower loops written as TensorFlow ops. Why: the compiled loops did not build")
    # and the layers asked for compiled loops run the fused ones
    model = models.build_model("gru", config, loop="compiled")
    assert model.predict(np.ones((2, 8), dtype="int32"), verbose=0).shape == (2, 1)
    off = dataclasses.replace(config, train=dataclasses.replace(config.train, compiled=False))
    monkeypatch.setenv("LABREPORT_CACHE_DIR", str(tmp_path / "other"))
    assert models.recurrent_loop("gru", off, "CPU", said.append) == "fused" and len(said) == rungs + 1  # not even tried
    assert not (tmp_path / "other").exists()


def copying_compiler(tmp_path, built) -> str:
    """A stand-in compiler that "builds" by copying the session's library: the cache logic is under test."""
    return script(tmp_path / "c++", f"""
        output = sys.argv[sys.argv.index('-o') + 1]
        shutil.copyfile({str(built.path)!r}, output)
        """)


def test_a_build_lands_in_the_cache_once_and_is_reused(tmp_path, compiled_loops):
    built = compiled_loops
    # A stand-in compiler that "builds" by copying the session's library: the cache logic is under
    # test, and a fresh process, since TensorFlow registers each op once per process.
    compiler = copying_compiler(tmp_path, built)
    program = f"""
        from pathlib import Path
        from labreport.experiment import kernels
        first = kernels.load(Path({str(tmp_path / 'cache')!r}), {compiler!r}, progress=print)
        second = kernels.load(Path({str(tmp_path / 'cache')!r}), {compiler!r}, progress=print)
        print(first.path == second.path, sorted(kernels.OPS) == sorted(o for o in kernels.OPS if hasattr(second.library, o)))
        """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("compiling labreport's GRU and LSTM loops for this machine with") and lines[-1] == "True True"
    assert len(lines) == 2  # the second load announced nothing: it found the library
    (arguments,) = calls(compiler)
    assert "-march=native" in arguments and "-mno-avx512fp16" not in arguments and any(flag in arguments for flag in tf.sysconfig.get_compile_flags())
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".lock", ".sha256", ".so"]


def test_the_ops_refuse_shapes_that_do_not_fit(compiled_loops):
    library = compiled_loops.library
    projected, h0 = tf.zeros([5, 2, 12]), tf.zeros([2, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="shapes do not fit"):
        library.labreport_gru_sequence(projected, h0, tf.zeros([4, 9]), tf.zeros([12]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="shapes do not fit"):
        library.labreport_lstm_sequence(tf.zeros([5, 2, 16]), h0, tf.zeros([3, 4]), tf.zeros([4, 16]))
    h_last, gates, states = library.labreport_gru_sequence(tf.zeros([0, 2, 12]), h0 + 1, tf.zeros([4, 12]), tf.zeros([12]))
    assert h_last.numpy().tolist() == [[1.0] * 4] * 2 and gates.shape == (0, 2, 16)  # no steps: h0 itself


def test_a_hanging_compiler_is_stopped_at_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("LABREPORT_BUILD_TIMEOUT", "2")
    compiler = script(tmp_path / "hanging-c++", "import subprocess, time\nsubprocess.Popen([sys.executable, '-c', "
                                                 "'import time; time.sleep(300)']); time.sleep(300)")
    start = time.monotonic()
    loaded = kernels.load(tmp_path / "cache", compiler)
    assert time.monotonic() - start < 30  # the grandchild holding the output pipe was stopped too
    assert loaded.library is None and "the build took longer than 2 s" in loaded.note
    assert loaded.note.endswith("delete it to try again); using the loops written as TensorFlow ops")


def test_a_cache_that_cannot_be_written_falls_back_in_one_line(tmp_path):
    (tmp_path / "file").write_text("a file where the cache's parent folder should be")
    loaded = kernels.load(tmp_path / "file" / "cache", script(tmp_path / "c++", "sys.exit(0)"))
    assert loaded.library is None and loaded.note.startswith(f"cannot write the cache folder {tmp_path / 'file' / 'cache'}")


def test_an_upgraded_compiler_retries_a_failed_build(tmp_path):
    compiler = script(tmp_path / "c++", "sys.exit(1)")
    cache = tmp_path / "cache"
    rungs = len(kernels.targets())
    assert "did not build" in kernels.load(cache, compiler).note
    assert "failed to build before" in kernels.load(cache, compiler).note
    Path(compiler).write_text(Path(compiler).read_text() + "# version 2\n")  # the upgrade
    assert "did not build" in kernels.load(cache, compiler).note
    assert len(calls(compiler)) == 2 * rungs


def test_a_truncated_library_in_the_cache_is_built_again_not_loaded(tmp_path, compiled_loops):
    """A library cut short after its build (its checksum no longer matches) is rebuilt before anything loads it."""
    built = compiled_loops
    compiler = copying_compiler(tmp_path, built)
    program = f"""
        import os
        from pathlib import Path
        from labreport.experiment import kernels
        loaded = kernels.load(Path({str(tmp_path / 'cache')!r}), {compiler!r}, progress=print)
        print(loaded.library is not None, loaded.path, os.path.getsize(loaded.path))
        """

    def load_in_a_fresh_process():
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True,
                                timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert result.returncode == 0, result.stderr[-2000:]  # a truncated library loaded would crash it (SIGBUS)
        return result.stdout.splitlines()

    first = load_in_a_fresh_process()
    assert first[0].startswith("compiling") and first[1].startswith("True ")
    library, size = Path(first[1].split()[1]), int(first[1].split()[2])
    with open(library, "r+b") as handle:
        handle.truncate(size // 3)
    again = load_in_a_fresh_process()
    assert again[0].startswith("compiling") and again[1] == f"True {library} {size}", again
    assert len(calls(compiler)) == 2


# The kernel cache is private (issue 32): each attack is planted, and the victim outside is checked untouched.

def planted_build(tmp_path, built) -> tuple[Path, Path, Path]:
    """A cache holding a whole build of the session's library (its .so and .sha256 under the names
    the compiler's first rung uses), made in this process (whose load of it fails only because
    TensorFlow already holds these ops), and the compiler's path."""
    cache = tmp_path / "cache"
    compiler = copying_compiler(tmp_path, built)
    kernels.load(cache, compiler)
    (library,) = cache.glob("recurrent_loops-*.so")
    return cache, library, Path(compiler)


def victim(tmp_path) -> Path:
    path = tmp_path / "victim"
    path.write_text("precious")
    return path


def test_a_cache_folder_others_can_write_to_is_ignored_in_one_line_and_nothing_in_it_loaded(tmp_path, compiled_loops):
    cache, library, compiler = planted_build(tmp_path, compiled_loops)
    cache.chmod(0o777)  # anyone could have put the library and its checksum there
    said: list[str] = []
    failing = script(tmp_path / "failing-c++", "sys.exit(1)")
    loaded = kernels.load(cache, failing, said.append)
    notes = [line for line in said if line.startswith("note:")]
    assert notes == [f"note: the cache folder {cache} can be written by other users (mode 0777), so labreport ignores "
                     f"it and builds in {kernels.temporary_folder()} for this run only"]
    assert loaded.library is None and loaded.reason == "build_failed" and str(cache) not in loaded.note
    assert all(str(cache) not in arguments for arguments in calls(failing))
    assert kernels.temporary_folder().stat().st_mode & 0o777 == 0o700


def test_a_new_cache_folder_is_private_and_an_existing_one_only_readable_by_others_is_narrowed(tmp_path):
    failing = script(tmp_path / "failing-c++", "sys.exit(1)")
    kernels.load(tmp_path / "new" / "kernels", failing)
    assert (tmp_path / "new" / "kernels").stat().st_mode & 0o777 == 0o700
    logs = list((tmp_path / "new" / "kernels").glob("*.log"))
    assert logs and all(log.stat().st_mode & 0o777 == 0o600 for log in logs)
    (tmp_path / "old").mkdir(mode=0o755)
    (tmp_path / "old").chmod(0o755)
    said: list[str] = []
    kernels.load(tmp_path / "old", failing, said.append)
    assert (tmp_path / "old").stat().st_mode & 0o777 == 0o700 and not any(line.startswith("note:") for line in said)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="planting another user's files needs root")
def test_a_library_or_folder_of_another_user_is_never_loaded(tmp_path, compiled_loops):
    cache, library, compiler = planted_build(tmp_path, compiled_loops)
    os.chown(library, 12345, 12345)  # the checksum beside it still matches
    kernels.load(cache, str(compiler))
    assert len(calls(str(compiler))) == 2 and library.stat().st_uid == os.getuid()  # built again, not loaded
    os.chown(cache, 12345, 12345)
    said: list[str] = []
    kernels.load(cache, script(tmp_path / "failing-c++", "sys.exit(1)"), said.append)
    assert f"note: the cache folder {cache} belongs to another user, so labreport ignores it" in said[0]


def test_links_planted_as_the_build_log_the_lock_or_the_checksum_are_never_written_through(tmp_path):
    target = victim(tmp_path)
    missing = tmp_path / "created-by-the-attack"
    failing = script(tmp_path / "failing-c++", "sys.exit(1)")
    cache = tmp_path / "cache"
    kernels.load(cache, failing)
    logs = sorted(cache.glob("*.log"))
    locks = sorted(cache.glob("*.lock"))
    logs[0].unlink()
    logs[0].symlink_to(missing)  # dangling: a build that writes its log through it creates the file
    logs[1].unlink()
    logs[1].symlink_to(target)
    for lock in locks:
        lock.unlink()
        lock.symlink_to(tmp_path / "lock-victim")
    again = kernels.load(cache, failing)
    assert again.reason == "build_failed" and "did not build" in again.note  # the planted logs were not taken for failures
    assert not missing.exists() and not (tmp_path / "lock-victim").exists() and target.read_text() == "precious"
    assert not logs[0].is_symlink() and "exited with status 1" in logs[0].read_text()
    # and the checksum: a build that succeeds replaces a planted link rather than writing through it
    plain = tmp_path / "plain.so"  # any library will do: its build and checksum are under test, not its ops
    (tmp_path / "plain.c").write_text("int labreport_plain(void) { return 0; }\n")
    c_compiler = next((found for name in ("cc", "gcc", "clang") if (found := shutil.which(name))), None)
    if c_compiler is None:
        pytest.skip("no C compiler to build a plain library with")
    subprocess.run([c_compiler, "-shared", "-fPIC", str(tmp_path / "plain.c"), "-o", str(plain)], check=True, timeout=120)
    copying = copying_compiler(tmp_path, kernels.Kernels(None, "", plain))
    other = tmp_path / "other"
    kernels.load(other, copying)
    (checksum,) = other.glob("*.sha256")
    (library,) = other.glob("*.so")
    checksum.unlink()
    checksum.symlink_to(target)
    library.unlink()
    kernels.load(other, copying)
    assert target.read_text() == "precious" and not checksum.is_symlink() and checksum.stat().st_mode & 0o777 == 0o600


def constructor_library(tmp_path) -> tuple[Path, Path]:
    """A shared library whose constructor, run the moment anything loads it, writes a marker file: what a
    hostile library planted in the cache would do. Returns the library and the marker's path."""
    marker = tmp_path / "constructor-ran"
    source = tmp_path / "evil.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) {\n'
                      f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); fclose(f); }}\n}}\n')
    library = tmp_path / "evil.so"
    compiler = next((found for name in ("cc", "gcc", "c++", "clang") if (found := shutil.which(name))), None)
    if compiler is None:
        pytest.skip("no C compiler to build the planted library with")
    subprocess.run([compiler, "-shared", "-fPIC", "-x", "c", str(source), "-o", str(library)], check=True, timeout=120)
    return library, marker


def plant(cache: Path, evil: Path, compiler: str) -> Path:
    """Puts `evil` in `cache` as the first rung's library, mode 0600, with a checksum file that matches it
    (as an attacker who can drop files, e.g. by an unpacked archive of a home folder, can)."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = kernels._build_key(compiler, kernels.targets()[0])
    library = cache / f"recurrent_loops-{key}.so"
    shutil.copyfile(evil, library)
    library.chmod(0o600)
    checksum = library.with_suffix(".sha256")
    checksum.write_text(hashlib.sha256(library.read_bytes()).hexdigest() + "\n")
    checksum.chmod(0o600)
    return library


def test_a_planted_library_with_a_matching_checksum_is_built_again_never_loaded(tmp_path):
    """Issue 32, B1: a library of this user's, mode 0600, with its sha256 beside it, was dropped in the
    cache (not built there): its constructor must never run; the build is tried instead."""
    evil, marker = constructor_library(tmp_path)
    failing = script(tmp_path / "failing-c++", "sys.exit(1)")
    cache = tmp_path / "cache"
    plant(cache, evil, failing)
    loaded = kernels.load(cache, failing)
    assert not marker.exists(), "the planted library was loaded: its constructor ran"
    assert loaded.library is None and loaded.reason == "build_failed"
    assert len(calls(failing)) == len(kernels.targets())  # the planted rung was built again, not trusted


def test_a_library_copied_with_its_whole_record_or_rewritten_in_place_is_built_again(tmp_path):
    """The proof binds the checksum to the file the build made (device, inode, change time): a cache copied
    or unpacked whole, record included, and a library rewritten in place under an updated checksum are
    each built again, never loaded."""
    evil, marker = constructor_library(tmp_path)
    failing = script(tmp_path / "failing-c++", "sys.exit(1)")
    cache = tmp_path / "cache"
    library = plant(cache, evil, failing)
    checksum = library.with_suffix(".sha256")
    digest = hashlib.sha256(library.read_bytes()).hexdigest()
    kernels._write_private(checksum, kernels._proof(digest, os.stat(library)))  # as its build writes it
    assert kernels._intact(library, checksum)  # the record of the file in place is accepted
    copy = tmp_path / "copy"
    shutil.copytree(cache, copy, copy_function=shutil.copy2)  # cp -a, tar x, unzip: the same bytes, a new file
    loaded = kernels.load(copy, failing)
    assert not marker.exists() and loaded.library is None and loaded.reason == "build_failed"
    assert len(calls(failing)) == len(kernels.targets())
    # in place: same inode and device, new bytes, and a checksum naming them with the old change time
    before = os.stat(library)
    time.sleep(0.05)  # a tick of the file system's clock, so the rewrite gets a change time of its own
    with open(library, "ab") as appending:
        appending.write(b"\0" * 64)  # the loader ignores bytes past the ELF's end
    assert os.stat(library).st_ino == before.st_ino
    kernels._write_private(checksum, kernels._proof(hashlib.sha256(library.read_bytes()).hexdigest(), before))
    loaded = kernels.load(cache, failing)
    assert not marker.exists() and loaded.library is None and loaded.reason == "build_failed"
    assert len(calls(failing)) == 2 * len(kernels.targets())
