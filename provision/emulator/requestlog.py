"""requests.jsonl: one JSON line per request the emulator answered (or dropped).

Each line: ``{"ts", "service", "method", "path", "status", "op"}`` plus ``"fault"`` when the
answer was injected (``"429"``, ``"500"``, ``"503"`` or ``"reset"``; a reset has status 0) or
refused by the throttling model (``"throttle"``, status 429; `throttle.py`), and
``"error"`` with the service error code when the answer is an error. The line is written and
flushed before the response leaves the server, so another process that reads the file after its
request finished sees the line.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["RequestLog", "count_reads_writes", "is_write", "read_request_log"]


class RequestLog:
    """Append-only writer of requests.jsonl (thread-safe; one write and flush per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh = path.open("a", encoding="utf-8", buffering=1 << 16)

    def write(
        self,
        service: str,
        method: str,
        path: str,
        status: int,
        op: str,
        fault: str | None = None,
        error: str | None = None,
        tenant: str | None = None,
        principal: str | None = None,
        host: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "ts": round(time.time(), 6),
            "service": service,
            "method": method,
            "path": path,
            "status": status,
            "op": op,
        }
        if fault is not None:
            entry["fault"] = fault
        if error is not None:
            entry["error"] = error
        if host is not None:
            entry["host"] = host  # the Azure hostname a request named (through the proxy)
        if tenant is not None:
            entry["tenant"] = tenant  # the tenant of the bearer token ("*": the operator)
            entry["principal"] = principal
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(line)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


def read_request_log(path: Path) -> list[dict[str, Any]]:
    """Parse requests.jsonl; a partly written last line is skipped."""
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})
# Operations sent with a writing HTTP method that only read: besides those named Get*/List*
# (ARM actions such as ListWorkspaceKeys and ListStorageAccountKeys, POST), Key Vault's
# BackupSecret (POST; it returns a blob of the secret and changes nothing).
READ_OPERATIONS_OVER_WRITE_METHODS = frozenset({"BackupSecret"})


# Services whose POSTs only read: the identity endpoints hand out tokens and change nothing.
READ_ONLY_SERVICES = frozenset({"identity"})


def is_write(entry: dict[str, Any]) -> bool:
    """Whether a requests.jsonl entry asked the service to change state.

    The one read/write rule of the project (the emulator's tests and `invoke bench` count with
    it): a write is a PUT, POST, PATCH or DELETE whose operation is not a read served over such a
    method. Everything else is a read: GET and HEAD, including Key Vault's 401 auth challenge (a
    GET answered 401), and every call to the identity endpoints (a token request is a POST that
    changes nothing). So Azure Files LeaseFile and SetFileMetadata are writes, ListWorkspaceKeys
    is a read.
    """
    if str(entry.get("method", "")).upper() not in WRITE_METHODS:
        return False
    if entry.get("service") in READ_ONLY_SERVICES:
        return False
    op = str(entry.get("op", ""))
    return not (op.startswith(("Get", "List")) or op in READ_OPERATIONS_OVER_WRITE_METHODS)


def count_reads_writes(entries: list[dict[str, Any]]) -> tuple[int, int]:
    """(reads, writes) among requests.jsonl entries, by `is_write`."""
    writes = sum(1 for e in entries if is_write(e))
    return len(entries) - writes, writes
