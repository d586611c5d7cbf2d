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
"""

from __future__ import annotations

import logging
import os
import re
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


def start(address: str | None, cpus_per_run: int, object_store_bytes: int, dashboard: bool = False) -> Engine:
    """Connects to the cluster at `address` (or `RAY_ADDRESS`), else starts a local instance.

    Args:
        address: a running cluster's address ("10.0.0.5:6379"); None: `RAY_ADDRESS`, else local.
        cpus_per_run: Ray CPUs each run holds (and TensorFlow threads it uses).
        object_store_bytes: the local instance's object store (raised to Ray's minimum).
        dashboard: start the local instance's dashboard, on 127.0.0.1 (needs `ray[default]`).

    Raises:
        LabreportError: Ray is missing, the cluster cannot be reached or refuses the token, or a run
            needs more CPUs than there are.
    """
    if address is None and os.environ.get("RAY_ADDRESS"):
        address = checked_address(os.environ["RAY_ADDRESS"], "RAY_ADDRESS")
    else:
        address = checked_address(address)
    ray = import_ray(address)
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
