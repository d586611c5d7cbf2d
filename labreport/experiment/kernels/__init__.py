"""labreport's compiled sequence loops: `recurrent_loops.cc`, built on this machine at first use.

The GRU's and the LSTM's loops over time (forward and back-propagation through time) run as
TensorFlow ops written in C++ (`recurrent_loops.cc`): a training step of the lab's BiGRU takes 0.65×
the time of the same loop written as TensorFlow ops, the BiLSTM's 0.7× (benchmarks/RESULTS.md).
TensorFlow's wheels ship the headers to compile such ops but no compiled copy of ours can fit every
TensorFlow version and CPU, so labreport compiles the file the first time a model trains, with the machine's C++ compiler and
TensorFlow's own flags (`tf.sysconfig`), tuned to this CPU (`-march=native`), and keeps the library
in a cache folder:

- `LABREPORT_CACHE_DIR`, else `$XDG_CACHE_HOME/labreport`, else `~/.cache/labreport`; the library
  is `kernels/recurrent_loops-<key>.so`, where the key covers the source, TensorFlow's version and
  flags, the compiler and the CPU, so a new TensorFlow or a home folder shared between machines
  gets its own build.
- The compiler is `$CXX`, else the first of c++, g++, clang++ on the PATH.

Where no compiler is found, or the build fails (its log is kept beside the cache as
`recurrent_loops-<key>.log`, and the same build is not tried again until the log is deleted or the
compiler changes: the key covers the compiler's file, so an upgrade retries), training uses the loops
written as TensorFlow ops (`labreport.experiment.fused`) and says so once; nothing else changes. The record
says which loop ran (`models.<name>.recurrent_loop`).

The cache is not trusted: a library is loaded only when its sha256 matches the one written beside
it when it was built (`.sha256`), so a truncated or replaced file is built again rather than loaded
(a truncated library can crash the process that loads it); a cache that cannot be written, a
compiler that runs longer than `LABREPORT_BUILD_TIMEOUT` seconds (default 300), or a build another
process holds the lock of for longer than that, all end in the fallback with one line.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SOURCE = Path(__file__).resolve().parent / "recurrent_loops.cc"
COMPILERS = ("c++", "g++", "clang++")
BUILD_TIMEOUT_SECONDS = 300
"""How long a build may run (`LABREPORT_BUILD_TIMEOUT` overrides it) before training goes on without it."""
OPS = ("labreport_gru_sequence", "labreport_gru_sequence_grad", "labreport_lstm_sequence",
       "labreport_lstm_sequence_grad")


@dataclass(frozen=True)
class Kernels:
    """The outcome of loading the compiled loops: `library` (what `tf.load_op_library` returns) or
    None, `note`, one line saying what happened (loaded from where, or why not), and `path`, the
    library file (None where none was built)."""

    library: Any
    note: str
    path: Path | None = None


def _unavailable(reason: str) -> Kernels:
    return Kernels(None, f"{reason}; using the loops written as TensorFlow ops")


def cache_folder() -> Path:
    """Where built libraries are kept (see the module's docstring)."""
    if os.environ.get("LABREPORT_CACHE_DIR"):
        return Path(os.environ["LABREPORT_CACHE_DIR"]).expanduser() / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "labreport" / "kernels"


def find_compiler() -> str | None:
    """`$CXX` if set (even when it does not exist: the build then says so), else the first C++
    compiler on the PATH, else None."""
    if os.environ.get("CXX"):
        return os.environ["CXX"]
    return next((found for name in COMPILERS if (found := shutil.which(name))), None)


def _cpu_fingerprint() -> str:
    """What `-march=native` depends on: the CPU's model and feature flags (Linux), else its name."""
    from labreport.core.machine import cpu_info_lines

    lines = cpu_info_lines(("model name", "flags", "Features"))
    return "\n".join(lines) if lines else f"{platform.machine()} {platform.processor()}"


def build_command(compiler: str, library: Path) -> list[str]:
    """The compile-and-link command for `recurrent_loops.cc`, with TensorFlow's own flags.

    `-march=native` lets Eigen's matrix products use the CPU's vector units (on x86 without it the
    compiled loop is no faster than the TensorFlow-ops loop; benchmarks/RESULTS.md). Apple's arm64
    compilers target the machine's CPU by default and may refuse the flag; macOS also needs TensorFlow's
    symbols resolved at load time, as TensorFlow's guide to custom ops says.
    """
    import tensorflow as tf

    apple = platform.system() == "Darwin"
    tuning = [] if apple and platform.machine() == "arm64" else ["-march=native"]
    loading = ["-undefined", "dynamic_lookup"] if apple else []
    return [compiler, "-std=c++17", "-shared", "-fPIC", "-O3", *tuning, "-w", str(SOURCE), "-o", str(library),
            *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags(), *loading]


def build_timeout() -> float:
    """`LABREPORT_BUILD_TIMEOUT` seconds when it is a positive number, else BUILD_TIMEOUT_SECONDS."""
    try:
        value = float(os.environ.get("LABREPORT_BUILD_TIMEOUT", ""))
    except ValueError:
        return BUILD_TIMEOUT_SECONDS
    return value if 0 < value < 1e6 else BUILD_TIMEOUT_SECONDS


def _compiler_fingerprint(compiler: str) -> str:
    """The compiler's file (size and modification time): an upgraded compiler gets a new key."""
    found = shutil.which(compiler) or compiler
    try:
        info = Path(found).resolve().stat()
        return f"{Path(found).resolve()} {info.st_size} {info.st_mtime_ns}"
    except OSError:
        return found


def _build_key(compiler: str) -> str:
    import tensorflow as tf

    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (tf.__version__, *build_command(compiler, Path("-")), _cpu_fingerprint(), platform.python_version(),
                 _compiler_fingerprint(compiler)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def load(folder: Path | None = None, compiler: str | None = None,
         progress: Callable[[str], None] | None = None) -> Kernels:
    """Loads the compiled loops from the cache, building them first where needed.

    Args:
        folder: the cache folder; default `cache_folder()`.
        compiler: the C++ compiler; default `find_compiler()`.
        progress: told, in one line, that a build starts (it takes about half a minute).

    Returns:
        `Kernels`; `library` is None where no compiler was found or the build failed, and `note` says
        why in a line fit to show the user. Never raises for a missing compiler or a failed build.
    """
    import tensorflow as tf

    folder = folder or cache_folder()
    compiler = compiler or find_compiler()
    if compiler is None:
        return _unavailable("no C++ compiler found (install g++ or set CXX)")
    if not SOURCE.is_file():  # an installation without its package data
        return _unavailable(f"{SOURCE} is missing")
    key = _build_key(compiler)
    library, log = folder / f"recurrent_loops-{key}.so", folder / f"recurrent_loops-{key}.log"
    checksum = library.with_suffix(".sha256")
    if not _intact(library, checksum):
        if log.exists():
            return _unavailable(f"the compiled loops failed to build before (see {log}; delete it to try again)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = _BuildLock(folder / f"recurrent_loops-{key}.lock", build_timeout() + 30)
        except OSError as error:
            return _unavailable(f"cannot write the cache folder {folder} ({error.strerror or error})")
        with lock:
            if not lock.held:
                return _unavailable(f"another process has been building the compiled loops in {folder} for over "
                                    f"{lock.wait:.0f} s")
            if not _intact(library, checksum):  # another process may have built it while this one waited
                if log.exists():
                    return _unavailable(f"the compiled loops failed to build before (see {log}; delete it to try again)")
                if progress:
                    progress(f"compiling labreport's GRU and LSTM loops for this machine with {compiler} "
                             f"(once, about half a minute; kept in {folder})")
                failure = _build(compiler, library, log)
                if failure:
                    return _unavailable(f"the compiled loops did not build ({failure}; see {log}; delete it to try again)")
    try:
        loaded = tf.load_op_library(str(library))
    except (tf.errors.NotFoundError, OSError) as error:  # e.g. a library from an incompatible build
        return _unavailable(f"the compiled loops in {library} do not load ({str(error).splitlines()[0]})")
    if not all(hasattr(loaded, op) for op in OPS):  # TensorFlow registers an op once per process
        return _unavailable(f"the compiled loops in {library} came without their ops (another copy is loaded "
                            "in this process)")
    return Kernels(loaded, f"compiled loops loaded from {library}", library)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _intact(library: Path, checksum: Path) -> bool:
    """The library is a plain file whose sha256 is the one written when it was built."""
    try:
        if library.is_symlink() or not library.is_file() or checksum.stat().st_size > 200:
            return False
        return checksum.read_text(encoding="ascii").strip() == _sha256(library)
    except (OSError, UnicodeDecodeError):
        return False


class _BuildLock:
    """An exclusive lock on `path` (flock), waited for at most `wait` seconds; `held` says whether it was taken.
    Where locks are not available (Windows) the build goes ahead unlocked: each build writes its own
    temporary file and renames it into place, so two at once still leave one whole library."""

    def __init__(self, path: Path, wait: float):
        self.path, self.wait, self.held, self.fd = path, wait, False, None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            self.held = True
            return self
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            self.held = True  # a cache that takes no lock file takes no library either: the build says so
            return self
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return self
                time.sleep(0.5)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
        return False


def _build(compiler: str, library: Path, log: Path) -> str | None:
    """Builds into a temporary file beside `library` and moves it into place (another process may be
    building the same key: whichever finishes last replaces an identical file). Returns None, or
    what went wrong in a few words, with the compiler's output written to `log`."""
    timeout = build_timeout()
    try:
        handle, partial = tempfile.mkstemp(prefix=library.stem + ".", suffix=".partial.so", dir=library.parent)
        os.close(handle)
    except OSError as error:
        return f"cannot write the cache folder {library.parent} ({error.strerror or error})"
    command = build_command(compiler, Path(partial))
    try:
        returncode, output = _run_bounded(command, timeout)
        failure = None if returncode == 0 else f"{Path(compiler).name} exited with status {returncode}"
    except FileNotFoundError:
        failure, output = f"{compiler} not found", ""
    except subprocess.TimeoutExpired:
        failure, output = f"the build took longer than {timeout:g} s", ""
    except OSError as error:
        failure, output = f"{compiler} could not run ({error.strerror})", ""
    try:
        if failure:
            Path(partial).unlink(missing_ok=True)
            log.write_text(f"$ {' '.join(command)}\n\n{output[-100_000:]}\n{failure}\n", encoding="utf-8")
            return failure
        checksum = library.with_suffix(".sha256")
        checksum.write_text(_sha256(Path(partial)) + "\n", encoding="ascii")
        os.replace(partial, library)
    except OSError as error:
        Path(partial).unlink(missing_ok=True)
        return failure or f"cannot write the cache folder {library.parent} ({error.strerror or error})"
    return None


def _run_bounded(command: list[str], timeout: float) -> tuple[int, str]:
    """Runs the compiler in its own process group, killed whole (the driver and what it started) after
    `timeout` seconds; otherwise a compiler's child keeps the output pipe open and the wait never ends."""
    import signal

    posix = os.name == "posix"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, errors="replace", start_new_session=posix)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if posix:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
        else:
            process.kill()
        process.communicate()
        raise
    except BaseException:
        process.kill()
        raise
    return process.returncode, output


_loaded: dict[tuple[str | None, Path], Kernels] = {}


def default(progress: Callable[[str], None] | None = None) -> Kernels:
    """`load()` with the default cache folder and compiler, once per process for each: the layers ask
    at every trace; training asks first, with its progress, which hears of a build and, where the
    loops are not available, why (once)."""
    key = (find_compiler(), cache_folder())
    if key not in _loaded:
        _loaded[key] = load(key[1], key[0], progress)
        if _loaded[key].library is None and progress:
            progress(f"note: {_loaded[key].note}")
    return _loaded[key]
