"""Ray, as the sweep uses it: a local instance or a running cluster, one Ray Core task per run.

Ray's control plane has no authentication unless asked for, and a local instance normally listens
on every network interface, so anyone on the network could run code through it. A local instance
that labreport starts therefore:

- turns on Ray's token authentication (`RAY_AUTH_MODE=token`, Ray >= 2.52): Ray makes a token once,
  keeps it in `~/.ray/auth_token`, and refuses every client without it;
- binds every port to 127.0.0.1: Ray's own switch for that, `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`
  ("use the loopback address as the node's address"), must be set before `ray` is imported;
- keeps the dashboard off (`dashboard=True` turns it on, on 127.0.0.1) and caps the object store at
  what the sweep's data needs (never below Ray's minimum).

With an address (`--address`, or `RAY_ADDRESS`), the cluster's token is passed on when there is one
(`RAY_AUTH_TOKEN`, the file `RAY_AUTH_TOKEN_PATH` names, or `~/.ray/auth_token`); a cluster that
refuses it is said in one line. Measured with Ray 2.60: a client without the token, or with another
one, is refused by the GCS ("Authentication token is missing or incorrect").

The token file is a key to run code as this user, so labreport keeps it private: it writes a new one
itself (mode 0600, in a 0700 folder) before Ray would write one readable by everyone (Ray writes it
with the process's umask, 0644 in a 0755 home). A token file or folder that is a link, or is not
owned by this user, is refused with one line; one readable by others is made private with one line,
and for a local instance it is also replaced, since another user may already hold the old one.

An address is tried before Ray is: Ray's client retries a closed or silent port for about 14 minutes
without a word, so labreport opens a TCP connection and sends HTTP/2's preface (Ray's control plane
and Ray Client are gRPC), and an address that refuses or does not answer within
`ADDRESS_TIMEOUT_SECONDS` stops the sweep with one line.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import stat
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from labreport.core import LabreportError

INSTALL = 'labreport sweep runs on Ray, which is not installed: pip install "labreport[sweep]"'
OBJECT_STORE_MINIMUM = 75 * 1024 * 1024
"""Ray's smallest object store (`ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES` in Ray 2.60)."""
LOOPBACK = "127.0.0.1"
AUTH_REFUSED = ("InvalidAuthToken", "Unauthenticated", "Authentication token")
"""What Ray's client logs when a cluster refuses its token."""


@dataclass
class Failure:
    """A run that did not finish: why, in one line, and whether its worker died (not an error it raised)."""

    reason: str
    worker_died: bool = False


ADDRESS_TIMEOUT_SECONDS = 5.0
"""How long an address has to accept a connection and answer HTTP/2's preface (a live GCS answers in milliseconds)."""
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""A client's connection preface and an empty SETTINGS frame: a gRPC server answers with its own SETTINGS."""


def token_path() -> Path:
    """The token file Ray reads: `RAY_AUTH_TOKEN_PATH`, else `~/.ray/auth_token`."""
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(named) if named else Path.home() / ".ray" / "auth_token"


def _owned_by_user(info: os.stat_result) -> bool:
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def private_token(local: bool, say: Callable[[str], None]) -> Path | None:
    """Makes the token file Ray will read private to this user; writes one when a local instance needs it.

    Args:
        local: a local instance starts (its token may be new; one that others could read is replaced).
        say: where a note about a fixed file goes (one line).

    Returns:
        The token file, or None when the token comes from `RAY_AUTH_TOKEN` or, for a cluster, there is none.

    Raises:
        LabreportError: the file or its folder is a link, not this user's, or not a plain file/folder.
    """
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    path = token_path()
    folder = path.parent
    try:
        folder_info = os.lstat(folder)
    except FileNotFoundError:
        if not local:
            return None
        folder.mkdir(mode=0o700, parents=True)
        folder_info = os.lstat(folder)
    if not stat.S_ISDIR(folder_info.st_mode) or not _owned_by_user(folder_info):
        raise LabreportError(f"the Ray token folder {folder} is {_not_private(folder_info, 'folder')}: labreport "
                             "keeps its Ray token only in a folder of this user's own")
    if stat.S_IMODE(folder_info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
        say(f"note: the Ray token folder {folder} was open to other users (mode {stat.S_IMODE(folder_info.st_mode):o}); "
            "labreport made it 0700")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if local:
            _write_token(path)
        return path if local else None
    if not stat.S_ISREG(info.st_mode) or not _owned_by_user(info):
        raise LabreportError(f"the Ray token file {path} is {_not_private(info, 'file')}: labreport uses only a "
                             "token file of this user's own (remove it, and a local sweep writes a new one)")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        if local:  # another user may hold it already: the new local instance gets a token nobody has read
            path.unlink()
            _write_token(path)
            say(f"note: the Ray token file {path} was readable by other users (mode {mode:o}); labreport replaced it "
                "with a new token only this user can read (0600)")
        else:  # the cluster wants this very token
            os.chmod(path, 0o600)
            say(f"note: the Ray token file {path} was readable by other users (mode {mode:o}); labreport made it 0600 "
                "(anyone who read it can still reach the cluster until its token changes)")
    return path


def _not_private(info: os.stat_result, kind: str) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "a link"
    if kind == "folder" and not stat.S_ISDIR(info.st_mode) or kind == "file" and not stat.S_ISREG(info.st_mode):
        return f"not a {kind}"
    return f"owned by another user (uid {info.st_uid})"


def _write_token(path: Path) -> None:
    """A new token as Ray makes one (256 random bits, hex), created 0600 and never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32))


def probe_address(address: str, timeout: float = ADDRESS_TIMEOUT_SECONDS) -> None:
    """Stops at once when nothing at `address` answers as a gRPC server would, within `timeout` seconds.

    Raises:
        LabreportError: the connection is refused or times out, or the server says nothing (one line).
    """
    target = address.removeprefix("ray://")
    host, port = target.rsplit(":", 1)
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as connection:
            connection.sendall(HTTP2_PREFACE)
            connection.recv(1)  # any answer, or a close, is a server there; silence times out
    except socket.timeout:
        raise LabreportError(f"cannot connect to the Ray cluster at {address}: it did not answer within "
                             f"{timeout:g} seconds") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise LabreportError(f"cannot connect to the Ray cluster at {address}: {reason}") from None


def _token_source() -> str | None:
    """Where Ray will read the token from, or None when there is no token to pass on."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path and Path(path).is_file():
        return path
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


ADDRESS = re.compile(r"(ray://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})):[0-9]{1,5}")
"""A running cluster's address: HOST:PORT, or ray://HOST:PORT for Ray Client."""


def checked_address(address: str | None, origin: str = "--address") -> str | None:
    """`address` when it names a running cluster; None for none.

    Ray also takes the words `local` (start an instance) and `auto` (whatever cluster runs on this
    machine) as addresses; neither is a cluster the user named, and `local` would start an instance
    without the protections of labreport's own, so both are refused.

    Raises:
        LabreportError: anything but HOST:PORT (one line, naming where it came from).
    """
    if address is None or address == "":
        return None
    if not isinstance(address, str) or not ADDRESS.fullmatch(address.strip()):
        shown = repr(address)[:80]
        hint = (" (leave it out for a local instance on this machine)" if str(address).strip().lower()
                in ("local", "auto") else "")
        raise LabreportError(f"Received an invalid value for `{origin}`: expected the address of a running Ray "
                             f"cluster, HOST:PORT such as 10.0.0.5:6379{hint}, received: {shown}")
    port = int(address.strip().rsplit(":", 1)[1])
    if not 1 <= port <= 65535:
        raise LabreportError(f"Received an invalid value for `{origin}`: the port must be from 1 to 65535, "
                             f"received: {port} (in {address.strip()!r})")
    return address.strip()


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    return host in (LOOPBACK, "localhost", "::1")


def import_ray(address: str | None):
    """Imports Ray; for a local instance, with token authentication on and its ports on 127.0.0.1.

    A cluster on this machine's loopback address (`ray start --head --node-ip-address 127.0.0.1`)
    is reached on loopback too: otherwise Ray's client replaces 127.0.0.1 with the machine's
    network address, where such a cluster does not listen.

    Raises:
        LabreportError: Ray is not installed (the line says how to install it).
    """
    if address is None:
        os.environ["RAY_AUTH_MODE"] = "token"
    elif "RAY_AUTH_MODE" not in os.environ and _token_source():
        os.environ["RAY_AUTH_MODE"] = "token"
    if (address is None or _loopback(address)) and "ray" not in sys.modules:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise LabreportError(INSTALL) from None
    return ray


@contextmanager
def _held_stderr() -> Iterator[Callable[[], str]]:
    """Holds what is written to file descriptor 2 (Ray's C++ client logs there) and gives it to the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)

        def text() -> str:
            held.seek(0)
            return held.read().decode("utf-8", "replace")

        try:
            yield text
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class Engine:
    """A connected Ray: local instance or cluster; submits runs, waits for them, cancels them."""

    def __init__(self, ray, local: bool, cpus: int, cpus_per_run: int, where: str):
        self.ray, self.local, self.cpus, self.cpus_per_run, self.where = ray, local, cpus, cpus_per_run, where
        self.slots = max(1, cpus // cpus_per_run)
        from labreport.sweep import task

        self._train = ray.remote(task.train_run).options(num_cpus=cpus_per_run, max_retries=0)

    def describe(self) -> str:
        runs = "run" if self.slots == 1 else "runs"
        return f"{self.where}: {self.cpus} CPUs, {self.slots} {runs} at a time of {self.cpus_per_run} CPU each"

    def put(self, value: Any):
        return self.ray.put(value)

    def submit(self, *args: Any):
        """Starts one run's task (`labreport.sweep.task.train_run`); returns its reference."""
        return self._train.remote(*args)

    def wait(self, refs: list, timeout: float) -> list:
        """The references among `refs` that have finished, waiting at most `timeout` seconds for one."""
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        return ready

    def result(self, ref) -> Any:
        """The task's return value, or a `Failure` saying why there is none."""
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref)
        except exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None) or error
            return Failure(_one_line(cause))
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError,
                exceptions.OutOfMemoryError) as error:
            return Failure(f"its worker died ({type(error).__name__})", worker_died=True)
        except exceptions.RayError as error:
            return Failure(f"Ray could not run it ({_one_line(error, 200)})", worker_died=True)

    def cancel(self, refs: list) -> None:
        """Stops the tasks of `refs`, running or waiting (their workers are ended)."""
        for ref in refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished, or its worker already gone
                pass

    def close(self) -> None:
        """Disconnects; a local instance stops with it."""
        self.ray.shutdown()


def _one_line(error: BaseException, limit: int = 300) -> str:
    from labreport.core import LabreportError as Known

    text = str(error) if isinstance(error, Known) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def start(address: str | None, cpus_per_run: int, object_store_bytes: int, dashboard: bool = False,
          say: Callable[[str], None] | None = None) -> Engine:
    """Connects to the cluster at `address` (or `RAY_ADDRESS`), else starts a local instance.

    Args:
        address: a running cluster's address ("10.0.0.5:6379"); None: `RAY_ADDRESS`, else local.
        cpus_per_run: Ray CPUs each run holds (and TensorFlow threads it uses).
        object_store_bytes: the local instance's object store (raised to Ray's minimum).
        dashboard: start the local instance's dashboard, on 127.0.0.1 (needs `ray[default]`).
        say: where a note goes (a token file made private); standard error when None.

    Raises:
        LabreportError: Ray is missing, the cluster cannot be reached within seconds or refuses the
            token, the token file is not this user's own, or a run needs more CPUs than there are.
    """
    if address is None and os.environ.get("RAY_ADDRESS"):
        address = checked_address(os.environ["RAY_ADDRESS"], "RAY_ADDRESS")
    else:
        address = checked_address(address)
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    if address is not None:
        probe_address(address)
    ray = import_ray(address)
    private_token(address is None, say)
    if address is None:
        engine = _start_local(ray, cpus_per_run, object_store_bytes, dashboard)
    else:
        engine = _connect(ray, address, cpus_per_run)
    if cpus_per_run > engine.cpus:
        engine.close()
        raise LabreportError(f"Received an invalid value for `--cpus-per-run`: expected at most the {engine.cpus} CPUs "
                             f"of {engine.where}, received: cpus_per_run={cpus_per_run}")
    return engine


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: `taskset`, a container's cpuset), else all of them."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this system (macOS, Windows)
        return os.cpu_count() or 1


def _start_local(ray, cpus_per_run: int, object_store_bytes: int, dashboard: bool) -> Engine:
    cpus = usable_cpus()
    options = dict(address="local", num_cpus=cpus, num_gpus=0, include_dashboard=dashboard,
                   object_store_memory=max(OBJECT_STORE_MINIMUM, int(object_store_bytes)),
                   log_to_driver=False, logging_level=logging.ERROR)
    if dashboard:
        options["dashboard_host"] = LOOPBACK
    with _held_stderr() as held:
        try:
            context = ray.init(**options)
        except Exception as error:
            raise LabreportError(f"cannot start a local Ray instance: {_one_line(error)} {held()[-300:]}".strip()) from None
    host = context.address_info.get("node_ip_address", "")
    where = f"a local Ray instance on {host} (token authentication on)"
    if host != LOOPBACK:  # Ray was imported before labreport could ask for the loopback address
        where += f"; note: it listens on {host}, not only on {LOOPBACK}, because Ray was imported first"
    return Engine(ray, True, cpus, cpus_per_run, where)


def _connect(ray, address: str, cpus_per_run: int) -> Engine:
    token = _token_source()
    with _held_stderr() as held:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as error:
            logs = held()
            if any(mark in logs or mark in str(error) for mark in AUTH_REFUSED):
                given = f"the token from {token}" if token else "no token (set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)"
                raise LabreportError(f"the Ray cluster at {address} refused labreport's connection: it was given "
                                     f"{given}, and the cluster wants its own token") from None
            raise LabreportError(f"cannot connect to the Ray cluster at {address}: {_one_line(error)}") from None
    cpus = int(ray.cluster_resources().get("CPU", 0))
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return Engine(ray, False, cpus, cpus_per_run, f"the Ray cluster at {address} ({nodes} node{'s' * (nodes != 1)})")
