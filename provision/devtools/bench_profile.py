"""`invoke bench --profile`: where the client's CPU goes during a first apply.

cProfile, one profiler per thread (the engine works on thread pools; cProfile alone sees only
the thread that enabled it), timed with each thread's own CPU clock (`time.thread_time`), so
that a thread blocked on a lock, a socket or the GIL is charged nothing: the figures add up to
CPU spent, not to waiting. Every function's own time (tottime) is put in one bucket by where
its code lives (TLS handshakes, TLS and socket I/O, HTTP, azure-core's pipeline policies, the
SDKs' serialisation, azure-identity, our code, thread coordination, ...), divided by the
requests of the apply. New connections are counted from the calls that open them
(urllib3's `connect` of an HTTPS connection, the SSL handshake).

cProfile slows every Python call, so absolute figures are inflated (the distortion is printed:
CPU with the profiler / CPU of the same apply without it); the shares between buckets are what
the profile is for.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["BUCKETS", "Profile", "ThreadProfiler", "bucket_of", "summarise"]

# (bucket, rule): the first rule that matches a function's (file, name) names its bucket.
# Built-in functions have file "~" and a name such as "<method 'read' of '_ssl._SSLSocket'
# objects>".
BUCKETS: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    (
        "TLS handshake + SSL context",
        lambda f, n: (
            "do_handshake" in n
            or "load_verify_locations" in n
            or "set_default_verify_paths" in n
            or "_SSLContext" in n
            or "wrap_socket" in n
            or "/ssl_.py" in f
        ),
    ),
    ("TLS and socket I/O", lambda f, n: "_ssl._SSLSocket" in n or "_socket.socket" in n),
    ("ssl/socket (Python)", lambda f, n: f.endswith(("/ssl.py", "/socket.py", "/selectors.py"))),
    ("http.client + email parsing", lambda f, n: "/http/" in f or "/email/" in f),
    ("urllib3", lambda f, n: "/urllib3/" in f),
    ("requests", lambda f, n: "/requests/" in f),
    ("azure-core pipeline policies", lambda f, n: "/azure/core/pipeline/policies/" in f),
    ("azure-core transport + pipeline", lambda f, n: "/azure/core/pipeline/" in f),
    ("azure-core other (tracing, paging, ...)", lambda f, n: "/azure/core/" in f),
    (
        "SDK serialisation (models, xml, json)",
        lambda f, n: (
            "_serialization" in f
            or "/msrest/" in f
            or "/xml/" in f
            or "/json/" in f
            or "pyexpat" in n
            or "json" in n
        ),
    ),
    (
        "SDK clients (keyvault, storage, mgmt)",
        lambda f, n: "/azure/" in f and "/identity/" not in f,
    ),
    ("azure-identity + msal", lambda f, n: "/azure/identity/" in f or "/msal/" in f),
    ("our code (provision/)", lambda f, n: "/provision/" in f),
    (
        "threads, locks, futures",
        lambda f, n: (
            f.endswith(("/threading.py", "/queue.py"))
            or "/concurrent/" in f
            or "_thread." in n
            or "lock" in n
        ),
    ),
    ("logging", lambda f, n: "/logging/" in f),
    (
        "environment reads (os.environ, proxies, netrc)",
        lambda f, n: (
            f in ("<frozen os>", "<frozen _collections_abc>")
            or "/urllib/request.py" in f
            or "/netrc.py" in f
            or "posix.stat" in n
        ),
    ),
    ("hashing, base64, hmac", lambda f, n: "hashlib" in n or "_hashlib" in n or "binascii" in n),
)
OTHER = "other (stdlib, builtins)"
CONNECT_CALLS = ("connection.py", "connect")  # urllib3.connection.HTTPSConnection.connect
# Calls whose cumulative CPU says what a request costs beyond sending it (label -> file, name).
NOTABLE = {
    "requests: environment per request (proxies, CA bundle)": (
        "requests/sessions.py",
        "merge_environment_settings",
    ),
    "requests: ~/.netrc lookup per request": ("requests/utils.py", "get_netrc_auth"),
    "urllib3: new connections (TCP + TLS)": ("urllib3/connection.py", "connect"),
    "azure-core: pipeline run (policies + transport)": ("azure/core/pipeline/_base.py", "run"),
    "azure-core: RequestsTransport.send": (
        "azure/core/pipeline/transport/_requests_basic.py",
        "send",
    ),
    "azure-identity: get_token_info": (
        "azure/identity/_internal/get_token_mixin.py",
        "get_token_info",
    ),
    "storage: Shared Key signing": (
        "azure/storage/fileshare/_shared/authentication.py",
        "on_request",
    ),
    "our code: read_tenant (plan of a tenant)": ("provision/tenant/read.py", "read_tenant"),
}


def bucket_of(file: str, name: str) -> str:
    file = file.replace("\\", "/")
    for bucket, rule in BUCKETS:
        if rule(file, name):
            return bucket
    return OTHER


class ThreadProfiler:
    """cProfile in this thread and in every thread started while it is active.

    `threading.setprofile` installs a function that each new thread calls once at its start;
    that call enables a fresh cProfile.Profile in that thread (which replaces the function).
    Threads that already run (the HTTP pool is created per run, so none of ours) are not seen.
    """

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _new(self) -> cProfile.Profile:
        prof = cProfile.Profile(time.thread_time)
        with self._lock:
            self.profiles.append(prof)
        return prof

    def _start_in_thread(self, *_: Any) -> None:
        sys.setprofile(None)
        self._new().enable()

    @contextmanager
    def active(self) -> Iterator[None]:
        main = self._new()
        threading.setprofile(self._start_in_thread)
        main.enable()
        try:
            yield
        finally:
            main.disable()
            threading.setprofile(None)  # None removes the hook

    def stats(self) -> pstats.Stats:
        """All threads' profiles merged (call after the profiled threads have ended)."""
        merged = pstats.Stats(self.profiles[0])
        for prof in self.profiles[1:]:
            try:
                merged.add(prof)
            except TypeError:  # a thread that never ran a profiled call has no stats
                continue
        return merged


@dataclass
class Profile:
    """The profile of one apply, per request."""

    requests: int
    cpu_s: float  # process CPU of the profiled apply
    unprofiled_cpu_s: float  # the same apply without the profiler (for the distortion)
    buckets: dict[str, float] = field(default_factory=dict)  # bucket -> CPU s (tottime)
    top: list[tuple[str, int, float, float]] = field(default_factory=list)  # fn, calls, tot, cum
    new_connections: int = 0
    handshakes: int = 0
    threads: int = 0
    notable: dict[str, float] = field(default_factory=dict)  # label -> cumulative CPU s
    top_cumulative: list[tuple[str, int, float, float]] = field(default_factory=list)

    @property
    def distortion(self) -> float:
        return self.cpu_s / self.unprofiled_cpu_s if self.unprofiled_cpu_s else 0.0

    def per_request_ms(self, seconds: float) -> float:
        return 1000.0 * seconds / self.requests if self.requests else 0.0

    def main_finding(self) -> str:
        total = sum(self.buckets.values()) or 1.0
        first, second = sorted(self.buckets.items(), key=lambda kv: -kv[1])[:2]
        return (
            f"{first[0]} {100 * first[1] / total:.0f} %, {second[0]} "
            f"{100 * second[1] / total:.0f} % of the client's profiled CPU; "
            f"{self.new_connections} new connections ({self.handshakes} TLS handshakes) "
            f"for {self.requests} requests"
        )


def _label(func: tuple[str, int, str]) -> str:
    file, line, name = func
    if file == "~":
        return name
    parts = file.replace("\\", "/").split("/")
    for anchor in ("site-packages", "provision", "python3.11", "lib"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + (0 if anchor == "provision" else 1) :]
            break
    return f"{'/'.join(parts)}:{line}({name})"


def summarise(
    profiler: ThreadProfiler, requests: int, cpu_s: float, unprofiled_cpu_s: float, top: int = 25
) -> Profile:
    stats = profiler.stats()
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    out = Profile(requests, cpu_s, unprofiled_cpu_s, threads=len(profiler.profiles))
    for func, (_cc, calls, tottime, cumtime, _callers) in raw.items():
        bucket = bucket_of(func[0], func[2])
        out.buckets[bucket] = out.buckets.get(bucket, 0.0) + tottime
        if func[0].endswith("urllib3/connection.py") and func[2] == CONNECT_CALLS[1]:
            out.new_connections += calls
        if func[0] == "~" and "do_handshake" in func[2]:
            out.handshakes += calls
        for label, (suffix, name) in NOTABLE.items():
            if func[0].replace("\\", "/").endswith(suffix) and func[2] == name:
                out.notable[label] = out.notable.get(label, 0.0) + cumtime

    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    out.top = [(_label(f), v[1], v[2], v[3]) for f, v in ranked]
    # Cumulative: the layers a request passes (thread bootstraps and pool loops left out).
    layers = [
        kv
        for kv in raw.items()
        if kv[0][0] != "~" and not kv[0][0].endswith(("threading.py", "thread.py", "fanout.py"))
    ]
    by_cum = sorted(layers, key=lambda kv: -kv[1][3])[:top]
    out.top_cumulative = [(_label(f), v[1], v[2], v[3]) for f, v in by_cum]
    return out


def print_profile(p: Profile, stream: IO[str]) -> None:
    total = sum(p.buckets.values())
    print(
        f"\nprofile of the first apply ({p.threads} threads profiled, CPU clock per thread): "
        f"{p.requests} requests, client CPU {p.cpu_s:.2f} s with the profiler, "
        f"{p.unprofiled_cpu_s:.2f} s without (distortion x{p.distortion:.2f})",
        file=stream,
    )
    print(
        f"  connections opened: {p.new_connections}, TLS handshakes: {p.handshakes} "
        f"({p.requests / max(1, p.new_connections):.0f} requests per connection)",
        file=stream,
    )
    print("  CPU by where the code lives (own time; ms per request, profiled):", file=stream)
    for bucket, secs in sorted(p.buckets.items(), key=lambda kv: -kv[1]):
        share = 100 * secs / total if total else 0.0
        print(f"    {bucket:42s} {p.per_request_ms(secs):6.3f} ms  {share:5.1f} %", file=stream)
    print("  notable calls (cumulative CPU, ms per request, profiled):", file=stream)
    for label, secs in sorted(p.notable.items(), key=lambda kv: -kv[1]):
        print(f"    {label:55s} {p.per_request_ms(secs):6.3f} ms", file=stream)
    print("  top functions by own CPU time (own s, cumulative s, calls):", file=stream)
    for label, calls, tot, cum in p.top:
        print(f"    {tot:7.3f} {cum:7.3f} {calls:8d}  {label}", file=stream)
    print("  top functions by cumulative CPU time (own s, cumulative s, calls):", file=stream)
    for label, calls, tot, cum in p.top_cumulative:
        print(f"    {tot:7.3f} {cum:7.3f} {calls:8d}  {label}", file=stream)
    print(f"  => {p.main_finding()}", file=stream)
