"""labreport's compiled sequence loops: `recurrent_loops.cc`, built on this machine at first use.

The GRU's and the LSTM's loops over time (forward and back-propagation through time) run as
TensorFlow ops written in C++ (`recurrent_loops.cc`): a training step of the lab's BiGRU takes 0.65×
the time of the same loop written as TensorFlow ops, the BiLSTM's 0.7× (benchmarks/RESULTS.md).
TensorFlow's wheels ship the headers to compile such ops but no compiled copy of ours can fit every
TensorFlow version and CPU, so labreport compiles the file the first time a model trains, with the
machine's C++ compiler and TensorFlow's own flags (`tf.sysconfig`), and keeps the library in a cache
folder:

- `LABREPORT_CACHE_DIR`, else `$XDG_CACHE_HOME/labreport`, else `~/.cache/labreport`; the library
  is `kernels/recurrent_loops-<key>.so`, where the key covers the source, TensorFlow's version and
  flags, the compiler, the CPU and the build target, so a new TensorFlow or a home folder shared
  between machines gets its own build.
- The compiler is `$CXX`, else the first of c++, g++, clang++ on the PATH.

The build climbs down a ladder of targets (`targets()`): first this CPU's own (`-march=native`,
which lets Eigen use every vector unit the CPU has); where the compiler refuses it, the same
without the newest extension Eigen trips on (`-mno-avx512fp16`: g++ 12 stops inside TensorFlow's
bundled Eigen on a CPU with AVX512-FP16), then the generic x86-64 levels this CPU runs (v4, v3,
v2), then the compiler's default. Each attempt has its own key, so its own library and, where it
fails, its own log (`recurrent_loops-<key>.log`): a failed attempt is not tried again until its log
is deleted or the compiler or TensorFlow changes (the key covers the compiler's file, so an upgrade
retries). Only a refusal moves down the ladder; a compiler that is missing, cannot run or runs
longer than `LABREPORT_BUILD_TIMEOUT` seconds (default 300) ends it. `Kernels.target` says which
rung built the library and `Kernels.reason` why it is not the first. Where no rung builds, training
uses the loops written as TensorFlow ops (`labreport.experiment.fused`) and says why; nothing else
changes. The record says which loop ran and for which target (`models.<name>.recurrent_loop`,
`models.<name>.loop_build`).

The cache is private and proven before use. The folder must be this user's and open to no one else
(created 0700; an existing folder of this user's that others cannot write to is narrowed to 0700;
anything else, a link included, is ignored with one line and the build goes to a private temporary
folder for this process). Every file labreport writes there is created new (`O_EXCL`, never through
a link, mode 0600), and a library is loaded only when it is proven to be the very file a build made
in this folder. Its sha256 alone proves nothing: anything that can drop files as this user (an
unpacked archive of a home or cache folder, a copy, a synced folder) can drop a library of its
choosing with a matching checksum beside it, mode 0600 and all, and loading a library runs its code.
So the build records, in the checksum file, the library's sha256 together with its device, inode and
change time (`st_ctime_ns`), read on the open file after its final chmod and rename (a rename keeps
the inode and may move the change time, so they are read after it); and a load requires all four to
match the file as it is, checked on one descriptor opened without following a link, which is then
the file handed to the loader (on Linux through `/proc/self/fd/N`; elsewhere by name, checked once
more just before). The change time cannot be set by tar, unzip, cp or any other call: the kernel
sets it to the present at every write, rename, chmod or link of the file. A library copied or
unpacked therefore has a new inode or change time, one rewritten in place a new change time, and
either is built again, never loaded; the same goes for one truncated (a truncated library can crash
the process that loads it), and a cache copied to another disk or restored from a backup is simply
built again (a cost of half a minute). A cache that cannot be written, or a build another process
holds the lock of for longer than the build timeout, ends in the fallback with one line.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import platform
import shutil
import stat
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
CACHE_LAYOUT = "ladder-1"
"""Part of every key: libraries cached before the ladder and the private cache (mode 0755) are built again."""
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
REASONS = ("native_refused", "disabled", "no_compiler", "no_source", "build_failed", "build_stopped",
           "cache_unwritable", "busy", "not_loadable")
"""Why the loops that ran are not the compiled ones built for this CPU's own target (`Kernels.reason`,
the record's `loop_build.reason`): a portable target ran ("native_refused"), or no compiled loop at all."""


@dataclass(frozen=True)
class Target:
    """One rung of the build ladder: `name`, as the record and the notes say it, and the compiler's
    tuning `flags`."""

    name: str
    flags: tuple[str, ...]


NATIVE = Target("native", ("-march=native",))
WITHOUT_FP16 = Target("native-no-avx512fp16", ("-march=native", "-mno-avx512fp16"))
GENERIC = Target("generic", ())
X86_LEVELS = (
    ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
    ("x86-64-v3", {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}),  # abm: Linux's name for lzcnt
    ("x86-64-v2", {"sse4_2", "sse4_1", "ssse3", "popcnt", "cx16"}),
)
"""The generic x86-64 levels and the CPU flags (as /proc/cpuinfo names them) each needs: a level is
tried only where this CPU runs all of its instructions, since a library built for more would stop
training with an illegal instruction."""


def cpu_flags() -> set[str]:
    """This CPU's feature flags as Linux names them; empty off Linux."""
    from labreport.core.machine import cpu_info_lines

    return {word for line in cpu_info_lines(("flags", "Features")) for word in line.split(":", 1)[-1].split()}


def targets(machine: str | None = None, flags: set[str] | None = None, system: str | None = None) -> list[Target]:
    """The build ladder for this machine (or the one described), best first: this CPU's own target;
    on x86-64 the same without AVX512-FP16 where the CPU has it (g++ 12 cannot compile TensorFlow's
    Eigen for it), then each generic level the CPU runs; last the compiler's default target."""
    machine = (machine or platform.machine()).lower()
    system = system or platform.system()
    flags = cpu_flags() if flags is None else flags
    if system == "Darwin" and machine == "arm64":
        return [GENERIC]  # Apple's compilers target the machine's CPU by default and may refuse -march=native
    ladder = [NATIVE]
    if machine in ("x86_64", "amd64"):
        if "avx512_fp16" in flags:  # Linux's name for AVX512-FP16
            ladder.append(WITHOUT_FP16)
        ladder += [Target(level, (f"-march={level}",)) for level, needs in X86_LEVELS if needs <= flags]
    return [*ladder, GENERIC]


@dataclass(frozen=True)
class Kernels:
    """The outcome of loading the compiled loops: `library` (what `tf.load_op_library` returns) or
    None, `note`, one line saying what happened (loaded from where, or why not), `path`, the library
    file (None where none was built), `target`, the rung of the ladder it was built for, `reason`
    (one of `REASONS`, None for this CPU's own target) and `compiler`, the compiler's file name."""

    library: Any
    note: str
    path: Path | None = None
    target: Target | None = None
    reason: str | None = None
    compiler: str | None = None

    def build_facts(self) -> dict:
        """What the record keeps of this build (`models.<name>.loop_build`)."""
        return {"target": self.target.name if self.target else None,
                "flags": " ".join(self.target.flags) if self.target else None,
                "compiler": self.compiler, "reason": self.reason}


def _unavailable(reason: str, code: str, compiler: str | None = None) -> Kernels:
    return Kernels(None, f"{reason}; using the loops written as TensorFlow ops", reason=code,
                   compiler=Path(compiler).name if compiler else None)


def cache_folder() -> Path:
    """Where built libraries are kept (see the module's docstring)."""
    from labreport.core.fileio import user_cache_folder

    return user_cache_folder() / "kernels"


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


def build_command(compiler: str, library: Path, target: Target = NATIVE) -> list[str]:
    """The compile-and-link command for `recurrent_loops.cc` for `target`, with TensorFlow's own flags.

    `-march=native` lets Eigen's matrix products use the CPU's vector units (on x86 without it the
    compiled loop is no faster than the TensorFlow-ops loop; benchmarks/RESULTS.md). macOS also needs
    TensorFlow's symbols resolved at load time, as TensorFlow's guide to custom ops says.
    """
    import tensorflow as tf

    loading = ["-undefined", "dynamic_lookup"] if platform.system() == "Darwin" else []
    return [compiler, "-std=c++17", "-shared", "-fPIC", "-O3", *target.flags, "-w", str(SOURCE), "-o", str(library),
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


def _build_key(compiler: str, target: Target) -> str:
    import tensorflow as tf

    digest = hashlib.sha256(SOURCE.read_bytes())
    for part in (CACHE_LAYOUT, tf.__version__, *build_command(compiler, Path("-"), target), _cpu_fingerprint(),
                 platform.python_version(), _compiler_fingerprint(compiler)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def load(folder: Path | None = None, compiler: str | None = None,
         progress: Callable[[str], None] | None = None) -> Kernels:
    """Loads the compiled loops from the cache, building them first where needed, down the ladder of
    targets (`targets()`) until one builds.

    Args:
        folder: the cache folder; default `cache_folder()`.
        compiler: the C++ compiler; default `find_compiler()`.
        progress: told, in one line each, that a build starts (it takes about half a minute) and
            that the cache folder is ignored (not private).

    Returns:
        `Kernels`; `library` is None where no compiler was found or no target built, and `note` says
        why in a line fit to show the user. Never raises for a missing compiler or a failed build.
    """
    folder = folder or cache_folder()
    compiler = compiler or find_compiler()
    if compiler is None:
        return _unavailable("no C++ compiler found (install g++ or set CXX)", "no_compiler")
    if not SOURCE.is_file():  # an installation without its package data
        return _unavailable(f"{SOURCE} is missing", "no_source", compiler)
    try:
        unsafe = _private_folder(folder)
    except OSError as error:
        return _unavailable(f"cannot write the cache folder {folder} ({error.strerror or error})", "cache_unwritable",
                            compiler)
    if unsafe:
        folder = temporary_folder()
        if progress:
            progress(f"note: {unsafe}, so labreport ignores it and builds in {folder} for this run only")
    refused: list[tuple[Target, Path]] = []
    built_now = False
    for target in targets():
        key = _build_key(compiler, target)
        library, log = folder / f"recurrent_loops-{key}.so", folder / f"recurrent_loops-{key}.log"
        checksum = library.with_suffix(".sha256")
        if not _intact(library, checksum):
            if _failed_before(log):
                refused.append((target, log))
                continue
            lock = _BuildLock(folder / f"recurrent_loops-{key}.lock", build_timeout() + 30)
            with lock:
                if not lock.held:
                    return _unavailable(f"another process has been building the compiled loops in {folder} for "
                                        f"over {lock.wait:.0f} s", "busy", compiler)
                if not _intact(library, checksum):  # another process may have built it while this one waited
                    if _failed_before(log):
                        refused.append((target, log))
                        continue
                    if progress:
                        below = f"; the compiler refused {refused[-1][0].name}, see {refused[-1][1]}" if refused else ""
                        progress(f"compiling labreport's GRU and LSTM loops for this machine with {compiler}, target "
                                 f"{target.name} (once, about half a minute; kept in {folder}){below}")
                    failure, refusal = _build(compiler, target, library, log)
                    built_now = True
                    if failure and refusal:
                        refused.append((target, log))
                        continue
                    if failure:
                        return _unavailable(f"the compiled loops did not build ({failure}; see {log}; delete it to "
                                            "try again)", "build_stopped", compiler)
        return _load_library(library, target, refused, compiler)
    tried = ", ".join(target.name for target, _ in refused)
    if built_now:
        reason = (f"the compiled loops did not build: {Path(compiler).name} refused every target ({tried}; see "
                  f"{refused[0][1]}; delete the logs in {folder} to try again)")
    else:
        reason = (f"the compiled loops failed to build before for every target ({tried}; see {refused[0][1]}; "
                  f"delete the logs in {folder} to try again)")
    return _unavailable(reason, "build_failed", compiler)


def _load_library(library: Path, target: Target, refused: list[tuple[Target, Path]], compiler: str) -> Kernels:
    import tensorflow as tf

    name = Path(compiler).name
    handle = _open_proven(library, library.with_suffix(".sha256"))
    if handle is None:  # replaced since it was proven a moment ago
        return _unavailable(f"the compiled loops in {library} changed after their build", "not_loadable", compiler)
    try:
        loaded = tf.load_op_library(_loadable_path(library, handle))
    except (tf.errors.NotFoundError, OSError, _Replaced) as error:  # e.g. a library from an incompatible build
        return _unavailable(f"the compiled loops in {library} do not load ({str(error).splitlines()[0]})",
                            "not_loadable", compiler)
    finally:
        os.close(handle)
    if not all(hasattr(loaded, op) for op in OPS):  # TensorFlow registers an op once per process
        return _unavailable(f"the compiled loops in {library} came without their ops (another copy is loaded "
                            "in this process)", "not_loadable", compiler)
    if not refused:
        return Kernels(loaded, f"compiled loops for {target.name} loaded from {library}", library, target, None, name)
    cost = ("AVX512-FP16 serves half-precision arithmetic, which the loops' float32 does not use" if target == WITHOUT_FP16
            else "so they may run somewhat slower than they could")
    return Kernels(loaded, f"compiled loops loaded from {library}, built for {target.name}: {name} refused this "
                           f"CPU's own target {refused[0][0].name} (see {refused[0][1]}); {cost}", library, target,
                   "native_refused", name)


class _Replaced(OSError):
    """The library's name no longer leads to the file that was proven."""


def _loadable_path(library: Path, handle: int) -> str:
    """The path to hand the loader for the proven file open on `handle`: on Linux the descriptor itself
    (/proc/self/fd/N leads to that very file whatever has happened to its name since); elsewhere its
    name, checked once more to still lead to that file (the folder is private, so only this user could
    swap it in the moment between)."""
    through = f"/proc/self/fd/{handle}"
    if os.path.exists(through):
        return through
    now, proven = os.lstat(library), os.fstat(handle)
    if (now.st_dev, now.st_ino, now.st_ctime_ns) != (proven.st_dev, proven.st_ino, proven.st_ctime_ns):
        raise _Replaced(f"{library} was replaced")
    return str(library)


def _owned_private(info: os.stat_result) -> bool:
    """A plain file of this user's that no one else may read or write (always true where the system
    has no owners and modes, Windows)."""
    if not hasattr(os, "getuid"):
        return stat.S_ISREG(info.st_mode)
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _failed_before(log: Path) -> bool:
    """Whether an earlier attempt at this build failed: its log is a private plain file of this user's.
    Anything else at the log's name (a link, another user's file) is removed, never followed, and the
    build is tried; its log is then written anew."""
    try:
        info = os.lstat(log)
    except FileNotFoundError:
        return False
    if _owned_private(info):
        return True
    try:
        log.unlink()  # a link itself, not what it points to
    except OSError:
        pass
    return False


def _private_folder(folder: Path) -> str | None:
    """Creates `folder` (mode 0700) where it is missing; returns None where it is this user's and no one
    else can write to it (narrowed to 0700 where others could read it), else why not, as a clause.
    Raises OSError where it cannot be created."""
    if not os.path.lexists(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        return f"the cache folder {folder} is a link"
    if not stat.S_ISDIR(info.st_mode):
        return f"the cache folder {folder} is not a folder"
    if not hasattr(os, "getuid"):
        return None
    if info.st_uid != os.getuid():
        return f"the cache folder {folder} belongs to another user"
    if info.st_mode & 0o022:
        return f"the cache folder {folder} can be written by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    if info.st_mode & 0o077:  # only read by others: no one else could have put anything in it
        os.chmod(folder, 0o700)
    return None


_temporary: list[Path] = []


def temporary_folder() -> Path:
    """A private folder of this process's (mkdtemp: 0700, a new name), removed when it ends."""
    if not _temporary:
        _temporary.append(Path(tempfile.mkdtemp(prefix="labreport-kernels-")))
        atexit.register(shutil.rmtree, _temporary[0], ignore_errors=True)
    return _temporary[0]


def _open_private(path: Path) -> tuple[int, os.stat_result] | None:
    """An open descriptor of `path` and its fstat where it is a plain file of this user's, open to no one
    else (opened without following a link, checked on the open file); else None."""
    try:
        handle = os.open(path, os.O_RDONLY | NO_FOLLOW)
    except OSError:
        return None
    info = os.fstat(handle)
    if not _owned_private(info):
        os.close(handle)
        return None
    return handle, info


def _proof(digest: str, info: os.stat_result) -> str:
    """What the checksum file says of a library: its sha256 and the identity of the file its build made
    (device, inode and change time, in nanoseconds), which no copy or unpacked archive can have."""
    return f"{digest} {info.st_dev} {info.st_ino} {info.st_ctime_ns}\n"


def _sha256(handle: int) -> str:
    digest = hashlib.sha256()
    os.lseek(handle, 0, os.SEEK_SET)
    while chunk := os.read(handle, 1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _open_proven(library: Path, checksum: Path) -> int | None:
    """An open descriptor of `library` where it is the very file its build made here: a private plain
    file of this user's whose sha256, device, inode and change time are those the build wrote in the
    checksum file (itself a private plain file of this user's); else None. The caller loads the file
    through this descriptor, so what was proven is what loads."""
    opened = _open_private(checksum)
    if opened is None:
        return None
    handle, info = opened
    with os.fdopen(handle, "rb") as reading:
        expected = reading.read(300).decode("ascii", "replace") if info.st_size <= 300 else ""
    opened = _open_private(library)
    if opened is None:
        return None
    handle, info = opened
    try:
        digest = _sha256(handle)
        if expected and expected == _proof(digest, info) == _proof(digest, os.fstat(handle)):  # unchanged while read
            return handle
    except OSError:
        pass
    os.close(handle)
    return None


def _intact(library: Path, checksum: Path) -> bool:
    """Whether `library` is proven to be its build's own file (`_open_proven`)."""
    handle = _open_proven(library, checksum)
    if handle is None:
        return False
    os.close(handle)
    return True


def _write_private(path: Path, text: str) -> None:
    """Writes `text` to `path` as a new private file: a temporary file (created O_EXCL, mode 0600)
    renamed over `path`, so a link planted at `path` is replaced, never written through."""
    handle, partial = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as opened:
            opened.write(text)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


class _BuildLock:
    """An exclusive lock on `path` (flock), waited for at most `wait` seconds; `held` says whether it was taken.
    Where locks are not available (Windows) the build goes ahead unlocked: each build writes its own
    temporary file and renames it into place, so two at once still leave one whole library. The lock
    file is opened without following a link (a link planted there is never written through)."""

    def __init__(self, path: Path, wait: float):
        self.path, self.wait, self.held, self.fd = path, wait, False, None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            self.held = True
            return self
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NO_FOLLOW, 0o600)
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


def _build(compiler: str, target: Target, library: Path, log: Path) -> tuple[str | None, bool]:
    """Builds for `target` into a temporary file beside `library` and moves it into place (another
    process may be building the same key: whichever finishes last replaces an identical file).
    Returns (None, False), or what went wrong in a few words and whether it was the compiler refusing
    the build (it ran and failed, so a lower target may build), with its output written to `log`."""
    timeout = build_timeout()
    try:
        handle, partial = tempfile.mkstemp(prefix=library.stem + ".", suffix=".partial.so", dir=library.parent)
        os.close(handle)
    except OSError as error:
        return f"cannot write the cache folder {library.parent} ({error.strerror or error})", False
    command = build_command(compiler, Path(partial), target)
    refusal = False
    try:
        returncode, output = _run_bounded(command, timeout)
        failure = None if returncode == 0 else f"{Path(compiler).name} exited with status {returncode}"
        refusal = returncode != 0
    except FileNotFoundError:
        failure, output = f"{compiler} not found", ""
    except subprocess.TimeoutExpired:
        failure, output = f"the build took longer than {timeout:g} s", ""
    except OSError as error:
        failure, output = f"{compiler} could not run ({error.strerror})", ""
    try:
        if failure:
            Path(partial).unlink(missing_ok=True)
            _write_private(log, f"$ {' '.join(command)}\n\n{output[-100_000:]}\n{failure}\n")
            return failure, refusal
        os.chmod(partial, 0o600)  # the linker wrote it anew, with the umask's mode
        handle = os.open(partial, os.O_RDONLY | NO_FOLLOW)
        try:
            digest = _sha256(handle)
            os.replace(partial, library)
            # Read the file's identity on the open descriptor after the rename (which keeps the inode
            # and may move the change time): nothing touches the library after this.
            _write_private(library.with_suffix(".sha256"), _proof(digest, os.fstat(handle)))
        finally:
            os.close(handle)
    except OSError as error:
        Path(partial).unlink(missing_ok=True)
        return failure or f"cannot write the cache folder {library.parent} ({error.strerror or error})", False
    return None, False


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
    loops are not available or built for a portable target, why (once), in words that stand out from
    the progress around them: the fallback loop makes an epoch up to several times slower."""
    key = (find_compiler(), cache_folder())
    if key not in _loaded:
        _loaded[key] = loaded = load(key[1], key[0], progress)
        if progress and loaded.library is None:
            why = loaded.note.removesuffix("; using the loops written as TensorFlow ops")
            progress(f"WARNING: labreport's compiled loops are off, so the GRU and the LSTM train on the slower "
                     f"loops written as TensorFlow ops. Why: {why}")
        elif progress and loaded.reason:
            progress(f"note: {loaded.note}")
    return _loaded[key]
