"""The benchmark's raw baseline: the first apply's requests, replayed without the Azure SDKs.

The same count and kinds of requests (method and path with query, in the order the emulator
logged them) are sent by `concurrency` threads through one urllib3 pool (TLS, keep-alive, the
same transport the SDKs' `requests` sits on) to a fresh emulator of the same seed and latency,
and the process CPU time they cost is measured. What the SDK path costs beyond that (pipeline
policies, serialisation, credentials, our code) is the ratio `invoke bench` reports.

The replay carries the emulator's operator token (every right in every tenant) and the headers
each service requires of a token caller, and a fixed body for writes: requests whose body or
headers the service would check come back as errors (counted, printed), which costs the client
the same round trip. Nothing here is product code.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

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


def _headers(service: str, method: str, token: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if service == "files":
        headers["x-ms-version"] = FILES_VERSION
        headers["x-ms-file-request-intent"] = "backup"
        headers["x-ms-date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    if service == "identity":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if method in ("PUT", "POST", "PATCH"):
        headers.setdefault("Content-Type", "application/octet-stream")
    return headers


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
            method = str(e["method"]).upper()
            body = WRITE_BODY if method in ("PUT", "POST", "PATCH") else None
            try:
                r = pool.urlopen(
                    method,
                    quote(str(e["path"]), safe=SAFE_PATH),
                    body=body,
                    headers=_headers(str(e.get("service")), method, token),
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
