"""`invoke bench --scale`: how time, requests, CPU and memory grow with the fleet.

For each fleet size (10, 50, 200, 500 tenants by default; users, secrets and latency as given)
a fresh emulator (its own process) is seeded, and a first apply and a no-op re-apply run as
plain ``invoke apply --endpoints FILE`` processes (interpreter start-up and imports included, as
an admin or a CI job runs it; see bench_shards). Each row: wall time, requests (from the
emulator's log), the apply process's CPU time and peak resident memory (`os.wait4`), and the
throughput floor (requests x L / C).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from provision.devtools.bench_shards import sharded_apply
from provision.devtools.emulator_process import EmulatorProcess
from provision.devtools.fleet import write_fleet

__all__ = ["SCALE_SIZES", "fleet_header", "run_scale"]

SCALE_SIZES = (10, 50, 200, 500)
SNAPSHOT_EVERY_S = 3600.0  # as in bench.py: the emulator snapshots only when it stops


def fleet_header(users: int, secrets: int, latency_ms: float, c: int) -> dict[str, Any]:
    """What a fleet benchmark's JSON document says of the fleet and the run (--scale,
    --throttle): per-tenant size, L, C and the Python that ran it."""
    import platform

    return {
        "users": users,
        "secrets": secrets,
        "latency_ms": latency_ms,
        "max_concurrency": c,
        "python_version": platform.python_version(),
    }


def _row(n: int, work: Path, users: int, secrets: int, latency_ms: float, c: int) -> dict[str, Any]:
    from provision.inventory.load import load_inventory

    inventory = write_fleet(work / f"fleet-{n}", n, users, secrets).path
    names = [t.name for t in load_inventory(inventory).tenants]
    state = work / f"emu-{n}"
    with EmulatorProcess(state, inventory, latency_ms, snapshot_every_s=SNAPSHOT_EVERY_S) as emu:
        server0 = emu.cpu_s()
        first = sharded_apply(inventory, emu, names, 1, c)
        server1 = emu.cpu_s()
        noop = sharded_apply(inventory, emu, names, 1, c)
    return {
        "tenants": n,
        "first_apply_s": round(first.wall_s, 2),
        "requests": first.requests,
        "requests_per_tenant": round(first.requests / n, 1),
        "client_cpu_s": round(first.cpu_s, 2),
        "client_cpu_per_request_ms": round(1000 * first.cpu_s / max(1, first.requests), 3),
        "peak_rss_mb": round(first.peak_rss_mb, 1),
        "emulator_cpu_s": None
        if server0 is None or server1 is None
        else round(server1 - server0, 2),
        "throughput_floor_s": round(first.requests * latency_ms / 1000 / c, 2),
        "noop_apply_s": round(noop.wall_s, 2),
        "noop_requests": noop.requests,
        "noop_writes": noop.writes,
        "noop_peak_rss_mb": round(noop.peak_rss_mb, 1),
    }


def print_scale(rows: list[dict[str, Any]], stream: IO[str]) -> None:
    head = (
        "tenants  first apply  requests (per tenant)  client CPU  CPU/request  peak RSS  "
        "floor     no-op"
    )
    print(head, file=stream)
    for r in rows:
        print(
            f"{r['tenants']:7d}  {r['first_apply_s']:9.2f} s  "
            f"{r['requests']:8d} ({r['requests_per_tenant']:5.1f})      "
            f"{r['client_cpu_s']:7.2f} s  {r['client_cpu_per_request_ms']:8.3f} ms  "
            f"{r['peak_rss_mb']:5.0f} MB  {r['throughput_floor_s']:6.2f} s  "
            f"{r['noop_apply_s']:6.2f} s",
            file=stream,
        )


def run_scale(
    sizes: tuple[int, ...],
    users: int,
    secrets: int,
    latency_ms: float,
    concurrency: int,
    as_json: bool,
    status: Any,
) -> int:

    import provision.azure  # noqa: F401 (imported before timing, as a CLI run would)
    from provision.options import DEFAULT_MAX_CONCURRENCY

    c = concurrency or DEFAULT_MAX_CONCURRENCY
    work = Path(tempfile.mkdtemp(prefix="msticpy-provision-scale-"))
    rows = []
    started = time.perf_counter()
    try:
        for n in sizes:
            status(f"scale: {n} tenants x {users} users x {secrets} secrets, L={latency_ms:g} ms")
            rows.append(_row(n, work, users, secrets, latency_ms, c))
            r = rows[-1]
            status(
                f"scale: {n} tenants: {r['first_apply_s']} s, {r['requests']} requests, "
                f"CPU {r['client_cpu_s']} s, peak {r['peak_rss_mb']} MB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    status(f"scale finished in {time.perf_counter() - started:.1f} s")
    doc = {**fleet_header(users, secrets, latency_ms, c), "scale": rows}
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        import sys

        print_scale(rows, sys.stdout)
    return 0
