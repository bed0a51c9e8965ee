"""`bench`: the onboarding benchmark against emulators in child processes (provision/devtools)."""

from __future__ import annotations


def run(
    tenants: int,
    users: int,
    secrets: int,
    latency_ms: float,
    max_concurrency: int,
    quick: bool,
    as_json: bool,
) -> int:
    from provision.devtools.bench import run_bench

    return run_bench(
        tenants=tenants,
        users=users,
        secrets=secrets,
        latency_ms=latency_ms,
        max_concurrency=max_concurrency,
        quick=quick,
        as_json=as_json,
    )
