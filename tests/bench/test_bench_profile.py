"""The benchmark's profiler: it sees the engine's pool threads, and buckets code by where it
lives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from provision.devtools.bench_profile import ThreadProfiler, bucket_of, summarise


def _spin_in_worker(n: int) -> int:
    return sum(i * i for i in range(n))


def test_profiler_sees_threads_started_while_active() -> None:
    profiler = ThreadProfiler()
    with profiler.active(), ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_spin_in_worker, [50_000] * 4))
    names = {func[2] for func in profiler.stats().stats}  # type: ignore[attr-defined]
    # cProfile alone profiles only the thread that enabled it: the function ran only in workers
    assert "_spin_in_worker" in names
    assert len(profiler.profiles) >= 2
    summary = summarise(profiler, requests=4, cpu_s=1.0, unprofiled_cpu_s=0.5)
    assert summary.distortion == 2.0
    assert sum(summary.buckets.values()) > 0


def test_buckets() -> None:
    assert bucket_of("~", "<method 'do_handshake' of '_ssl._SSLSocket' objects>").startswith(
        "TLS handshake"
    )
    assert bucket_of("/v/lib/site-packages/azure/core/pipeline/policies/_retry.py", "send") == (
        "azure-core pipeline policies"
    )
    assert bucket_of("/w/provision/tenant/read.py", "read_tenant") == "our code (provision/)"
    assert bucket_of("<frozen os>", "__getitem__").startswith("environment reads")
