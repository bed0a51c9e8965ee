"""The benchmark's raw baseline: the first apply's requests, replayed without the Azure SDKs.

The same count and kinds of requests (method and path with query, in the order the emulator
logged them) are sent by `concurrency` threads through one urllib3 pool (TLS, keep-alive, the
same transport the SDKs' `requests` sits on) to a fresh emulator of the same seed and latency,
and the process CPU time they cost is measured. What the SDK path costs beyond that (pipeline
policies, serialisation, credentials, our code) is the ratio `invoke bench` reports.

The log holds method, path and operation, not queries, headers or bodies: the replay adds the
query and headers each operation needs, the emulator's operator token (every right in every
tenant), the tenant app's client credentials for token requests, and small fixed bodies (a 1 KB
range, a short secret). Requests whose state differs from the original run's (a lease on a file
the replay did not create, a rename of a temporary file it did not write) come back as errors,
counted and printed, each still one full round trip for the client. Nothing here is product code.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["RawReplay", "replay"]

WRITE_BODY = b"x" * 1024  # about a rendered msticpyconfig.yaml
SAFE_PATH = "/?&=:;,@$!*'()+-._~"  # the path's own separators stay as they are
FILES_VERSION = "2025-05-05"


@dataclass
class RawReplay:
    requests: int
    wall_s: float
    cpu_s: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def cpu_per_request_ms(self) -> float:
        return 1000.0 * self.cpu_s / self.requests if self.requests else 0.0


# The log holds the path without its query: what each operation adds (Azure Files tells its
# operations apart by `restype` and `comp`), and the headers it requires.
FILES_QUERY = {
    "CreateDirectory": "restype=directory",
    "ListFilesAndDirectories": "restype=directory&comp=list",
    "PutRange": "comp=range",
    "RenameFile": "comp=rename",
    "LeaseFile": "comp=lease",
    "SetFileMetadata": "comp=metadata",
}
API_VERSIONS = {"arm": "2024-04-01", "keyvault": "7.5"}


def _request(
    e: dict[str, Any], endpoints: dict[str, Any], token: str
) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, URL path with query, body, headers) that repeat one logged request."""
    service, op = str(e.get("service")), str(e.get("op"))
    method = str(e["method"]).upper()
    path = quote(str(e["path"]), safe=SAFE_PATH)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    body: bytes | None = None
    query = ""
    if service in API_VERSIONS:
        query = f"api-version={API_VERSIONS[service]}"
        if method in ("PUT", "POST", "PATCH"):
            body = b'{"value": "' + WRITE_BODY[:64] + b'", "tags": {"managed-by": "x"}}'
            headers["Content-Type"] = "application/json"
    elif service == "files":
        query = FILES_QUERY.get(op, "")
        headers["x-ms-version"] = FILES_VERSION
        headers["x-ms-file-request-intent"] = "backup"
        headers["x-ms-date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        if op == "CreateFile":
            headers.update({"x-ms-type": "file", "x-ms-content-length": str(len(WRITE_BODY))})
        elif op == "PutRange":
            body = WRITE_BODY
            headers.update({"x-ms-range": f"bytes=0-{len(WRITE_BODY) - 1}", "x-ms-write": "update"})
    elif service == "identity" and method == "POST":
        tenant = str(e["path"]).strip("/").split("/")[0]
        app = (endpoints.get("tenants") or {}).get(tenant) or {}
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": app.get("client_id", ""),
                "client_secret": app.get("client_secret", ""),
                "scope": "https://management.azure.com/.default",
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return method, f"{path}?{query}" if query else path, body, headers


def replay(entries: list[dict[str, Any]], endpoints: dict[str, Any], concurrency: int) -> RawReplay:
    """Send every logged request once, `concurrency` at a time; measure wall and CPU time."""
    import urllib3

    origin = urlsplit(str(endpoints["arm"]))
    pool = urllib3.HTTPSConnectionPool(
        origin.hostname or "127.0.0.1",
        origin.port,
        maxsize=concurrency,
        block=True,
        ca_certs=endpoints.get("ca_cert"),
        cert_reqs="CERT_REQUIRED",
        retries=False,
        timeout=urllib3.Timeout(connect=10, read=60),
    )
    token = str(endpoints["token"])
    work: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
    for e in entries:
        work.put(e)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        seen: Counter[int] = Counter()
        while (e := work.get()) is not None:
            method, url, body, headers = _request(e, endpoints, token)
            try:
                r = pool.urlopen(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    preload_content=True,
                    assert_same_host=False,
                )
                seen[r.status] += 1
            except urllib3.exceptions.HTTPError:
                seen[0] += 1  # a dropped connection (the emulator's unknown vault or account)
        with lock:
            statuses.update(seen)

    threads = [threading.Thread(target=worker, name=f"raw-{i}") for i in range(concurrency)]
    for _ in threads:
        work.put(None)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    pool.close()
    return RawReplay(len(entries), wall, cpu, statuses)
