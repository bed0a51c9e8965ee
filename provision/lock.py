"""The per-tenant apply lock: an infinite lease on a file in the share, kept alive by a heartbeat.

The lock file's metadata names the holder (who, host, pid, when acquired) and carries a
`heartbeat` time that the holder renews every HEARTBEAT_EVERY seconds for as long as it works,
so that an apply of any length keeps its lock. Another run breaks the lease only when the holder
is provably gone: its process is dead on this host, or its heartbeat is older than STALE_AFTER
(a holder on another host that crashed or lost its network). The message then says whose lock
it was and how old its last heartbeat is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from provision.errors import LockHeld

__all__ = ["LockHeld", "LockPolicy", "hold_lock"]

log = logging.getLogger(__name__)

# A heartbeat every minute; a lock is stale after five missed ones. A GitHub job killed by its
# timeout is then recovered by the next run five minutes later, and no live holder, however long
# its apply, is ever broken into (it renews well within the bound).
HEARTBEAT_EVERY = 60.0
STALE_AFTER = 5 * HEARTBEAT_EVERY
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # older runs wrote whole seconds: both are read


def _utc(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc).strftime(
        _TIME_FORMAT
    )


def _parse(text: str) -> float | None:
    for fmt in (_TIME_FORMAT, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class LockPolicy:
    """Timing of the heartbeat and staleness (tests shorten them) and who we are."""

    heartbeat_every: float = HEARTBEAT_EVERY
    stale_after: float = STALE_AFTER
    host: str = ""
    pid: int = 0
    break_foreign: bool = False  # --break-lock: break a lease this tool did not take

    def __post_init__(self) -> None:
        self.host = self.host or socket.gethostname()
        self.pid = self.pid or os.getpid()

    def metadata(self, holder: str, acquired: str | None = None) -> dict[str, str]:
        now = _utc()
        return {
            "holder": holder[:200],
            "host": self.host[:100],
            "pid": str(self.pid),
            "acquired": acquired or now,
            "heartbeat": now,
        }

    def staleness(self, info: dict[str, str]) -> str | None:
        """Why the lock described by `info` may be broken, or None while its holder lives."""
        if not info:
            return None
        pid = info.get("pid", "")
        same_host = info.get("host") == self.host and pid.isdigit() and int(pid) != self.pid
        if same_host and not _pid_alive(int(pid)):
            return f"its process {pid} on {self.host} is gone"
        beat = _parse(info.get("heartbeat", "")) or _parse(info.get("acquired", ""))
        if beat is None:
            return None
        age = time.time() - beat
        if age > self.stale_after:
            return f"its last heartbeat is {age / 60:.1f} min old"
        return None


def is_tool_holder(info: dict[str, str]) -> bool:
    """Whether a lease's metadata is the holder record this tool writes (holder, host, pid and
    a time it can read). Anyone who can write the share can take a lease; one without such a
    record was not taken by this tool, and is never waited for or broken silently."""
    return (
        bool(info.get("holder"))
        and bool(info.get("host"))
        and info.get("pid", "").isdigit()
        and (_parse(info.get("heartbeat", "")) or _parse(info.get("acquired", ""))) is not None
    )


FOREIGN_HOLDER = (
    "the tenant's lock is held by something other than this tool (a lease without the holder "
    "record this tool writes)"
)
FOREIGN = f"{FOREIGN_HOLDER}: check who took it, or pass --break-lock to break it"


def describe_holder(info: dict[str, str]) -> str:
    if not info:
        return "another apply holds the lock (holder unknown)"
    beat = info.get("heartbeat")
    alive = f", last heartbeat {beat}" if beat else ""
    return (
        f"locked by {info.get('holder', '?')} (pid {info.get('pid', '?')} on "
        f"{info.get('host', '?')}) since {info.get('acquired', '?')}{alive}"
    )


class _Heartbeat(threading.Thread):
    """Renews the holder's heartbeat in the lock file's metadata until stopped."""

    def __init__(self, client: Any, lease: Any, metadata: dict[str, str], every: float) -> None:
        super().__init__(name="lock-heartbeat", daemon=True)
        self.client, self.lease, self.metadata, self.every = client, lease, metadata, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.metadata["heartbeat"] = _utc()
            try:
                self.client.set_file_metadata(dict(self.metadata), lease=self.lease)
            except Exception as exc:  # the next beat tries again; the apply goes on
                log.warning("could not renew the tenant lock's heartbeat: %s", exc)


@contextlib.contextmanager
def hold_lock(
    file_client: Any,
    holder: str,
    timeout: float,
    policy: LockPolicy,
    create: Callable[[dict[str, str]], None],
) -> Iterator[None]:
    """Hold the lease on `file_client` for the block, renewing its heartbeat.

    `create(metadata)` makes the lock file (and its folder), with the holder's metadata, when it
    does not exist yet. Raises LockHeld
    naming the holder when the lock stays held past `timeout` seconds.
    """
    lease, metadata = _acquire(file_client, holder, timeout, policy, create)
    beat = _Heartbeat(file_client, lease, metadata, policy.heartbeat_every)
    beat.start()
    try:
        yield
    finally:
        beat.stopped.set()
        beat.join(timeout=5)
        with contextlib.suppress(Exception):
            lease.release()


def _acquire(
    client: Any,
    holder: str,
    timeout: float,
    policy: LockPolicy,
    create: Callable[[dict[str, str]], None],
) -> tuple[Any, dict[str, str]]:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.storage.fileshare import ShareLeaseClient

    deadline = time.monotonic() + timeout
    named = False
    while True:
        # Name ourselves before taking the lease, so that a holder killed right after taking
        # it is still named (a lease with no holder record is never stale, and would block
        # every later run). While another holder's lease is active this write fails (412).
        if not named:
            try:
                client.set_file_metadata(policy.metadata(holder))
            except ResourceNotFoundError:
                create(policy.metadata(holder))  # the file, named as it is made
                named = True
                continue
            except HttpResponseError:
                pass
        named = False
        try:
            lease = client.acquire_lease()
        except ResourceNotFoundError:
            create(policy.metadata(holder))
            named = True
            continue
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            info = _holder(client)
            if not is_tool_holder(info):
                if not policy.break_foreign:
                    raise LockHeld(FOREIGN) from None
                log.warning("breaking the tenant lock (--break-lock): %s", FOREIGN)
                with contextlib.suppress(HttpResponseError):
                    ShareLeaseClient(client).break_lease()
                continue
            why = policy.staleness(info)
            if why is not None:
                log.warning("breaking a stale tenant lock (%s): %s", why, describe_holder(info))
                with contextlib.suppress(HttpResponseError):
                    ShareLeaseClient(client).break_lease()
                continue
            if time.monotonic() >= deadline:
                raise LockHeld(describe_holder(info)) from None
            time.sleep(min(2.0, max(0.2, deadline - time.monotonic())))
            continue
        metadata = policy.metadata(holder)
        client.set_file_metadata(metadata, lease=lease)
        return lease, metadata


def foreign_lease(client: Any) -> bool:
    """Whether the lock file is leased by something other than this tool (for plan's note)."""
    from azure.core.exceptions import HttpResponseError

    try:
        props = client.get_file_properties()
    except HttpResponseError:
        return False  # no lock file yet, or not readable: apply will say
    leased = str(getattr(props.lease, "state", "") or "").lower() == "leased"
    return leased and not is_tool_holder(dict(props.metadata or {}))


def _holder(client: Any) -> dict[str, str]:
    from azure.core.exceptions import HttpResponseError

    try:
        return dict(client.get_file_properties().metadata or {})
    except HttpResponseError:
        return {}
