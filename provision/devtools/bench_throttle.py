"""`invoke bench --throttle`: fleets under the emulator's model of Azure's request limits.

Fleets, each applied once (a first apply) by one plain ``invoke apply --endpoints FILE --json``
process against a fresh emulator started with ``--throttle SPEC`` (`provision.emulator.throttle`):

- 500 tenants, each in its own subscription (`write_fleet`), at Azure's bucket sizes;
- 200 ML workspaces in ONE subscription of one Entra tenant (`one_subscription_fleet`), where
  every ARM request of the run counts against the same principal's buckets of that subscription
  and every storage account read against the subscription's storage resource provider limit: at
  Azure's sizes, and with every bucket halved (see THROTTLE_FLEETS).

Each row: wall time, failed tenants (from the apply's JSON report), requests, the 429s the
clients absorbed per service (the request log's throttled answers: the apply succeeded, so every
one was retried), and the retried requests of any kind (429, 5xx, dropped connections).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from provision.devtools.bench_scale import fleet_header
from provision.devtools.emulator_process import EmulatorProcess, child_env, project_root
from provision.devtools.fleet import write_fleet

__all__ = [
    "THROTTLE_FLEETS",
    "absorbed",
    "one_subscription_fleet",
    "run_bench_throttle",
    "throttled_apply",
]

# (label, tenants, one subscription?, throttle SPEC). At Azure's sizes one client process on a
# 2-core machine reads ARM slower than the 25 per second refill (200 workspaces: about 17 per
# second, no 429), so the last fleet halves every bucket: the pace of a client twice as fast, or
# of two matrix chunks signed in as the same principal.
THROTTLE_FLEETS = (
    ("500 tenants", 500, False, "azure"),
    ("200 workspaces, 1 subscription", 200, True, "azure"),
    ("200 workspaces, 1 subscription, x0.5", 200, True, "azure,scale=0.5"),
)
SNAPSHOT_EVERY_S = 3600.0  # as in bench.py: the emulator snapshots only when it stops
APPLY_TIMEOUT_S = 1800.0


def one_subscription_fleet(folder: Path, workspaces: int, users: int, secrets: int) -> Path:
    """A synthetic fleet whose tenant entries are `workspaces` ML workspaces (each with its own
    resource group, vault and storage) of ONE subscription in one Entra tenant (the first's)."""
    import yaml

    path = write_fleet(folder, workspaces, users, secrets).path
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = doc["tenants"][0]
    for entry in doc["tenants"]:
        entry["tenant_id"] = first["tenant_id"]
        entry["subscription_id"] = first["subscription_id"]
    path.write_text(
        "# synthetic fleet, one subscription (provision/devtools/bench_throttle.py)\n"
        + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )
    return path


def _throttled_by(entry: dict[str, Any]) -> str:
    """Which service refused: the storage resource provider answers through ARM's endpoint."""
    return "storage-rp" if entry.get("error") == "TooManyRequests" else str(entry["service"])


def absorbed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The throttled answers (429 from the throttling model) per service (arm, storage-rp,
    keyvault), and every answer a client has to retry (429, 5xx, a dropped connection), in
    request-log entries."""
    throttled = Counter(_throttled_by(e) for e in entries if e.get("fault") == "throttle")
    retried = sum(1 for e in entries if e["status"] in (0, 429) or e["status"] >= 500)
    return {"throttled": dict(sorted(throttled.items())), "retried": retried}


def throttled_apply(
    inventory: Path, state: Path, spec: str | None, latency_ms: float, concurrency: int
) -> dict[str, Any]:
    """One first apply of `inventory` by an `invoke apply` process against a fresh emulator
    started with `--throttle spec` (None: no throttling); its figures."""
    with EmulatorProcess(
        state, inventory, latency_ms, throttle=spec, snapshot_every_s=SNAPSHOT_EVERY_S
    ) as emu:
        offset = emu.log_offset()
        args = [sys.executable, "-m", "invoke", "apply", "-i", str(inventory), "--json"]
        args += ["--endpoints", str(emu.endpoints_file), "--max-concurrency", str(concurrency)]
        started = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 (our own interpreter and task)
            args,
            cwd=str(project_root()),
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=APPLY_TIMEOUT_S,
            check=False,
        )
        wall = time.perf_counter() - started
        entries = emu.log_since(offset)
    try:
        report = json.loads(proc.stdout)
        tenants, failed = report["totals"]["tenants"], report["totals"]["failed"]
    except (ValueError, KeyError, TypeError):
        tail = proc.stderr.strip()[-300:]
        raise RuntimeError(
            f"apply exited {proc.returncode} without a JSON report: {tail}"
        ) from None
    return {
        "wall_s": round(wall, 2),
        "exit_code": proc.returncode,
        "tenants": tenants,
        "failed_tenants": failed,
        "requests": len(entries),
        **absorbed(entries),
    }


def print_throttle(rows: list[dict[str, Any]], stream: IO[str]) -> None:
    print(
        "fleet                                  wall     failed  requests  429s absorbed",
        file=stream,
    )
    for r in rows:
        per = ", ".join(f"{k} {v}" for k, v in r["throttled"].items()) or "none"
        print(
            f"{r['fleet']:<37}  {r['wall_s']:7.1f} s  {r['failed_tenants']:5d}  "
            f"{r['requests']:8d}  {sum(r['throttled'].values())} ({per}); "
            f"{r['retried']} retried",
            file=stream,
        )


def run_bench_throttle(
    *, users: int, secrets: int, latency_ms: float, max_concurrency: int, as_json: bool
) -> int:
    """Apply each of THROTTLE_FLEETS under its throttle SPEC; print the figures. Exit 1 when a
    tenant failed."""

    from provision.options import DEFAULT_MAX_CONCURRENCY

    c = max_concurrency or DEFAULT_MAX_CONCURRENCY
    work = Path(tempfile.mkdtemp(prefix="msticpy-provision-throttle-"))
    rows: list[dict[str, Any]] = []
    try:
        for i, (label, n, shared, spec) in enumerate(THROTTLE_FLEETS):
            folder = work / f"fleet-{i}"
            inventory = (
                one_subscription_fleet(folder, n, users, secrets)
                if shared
                else write_fleet(folder, n, users, secrets).path
            )
            print(f"throttle: {label}, --throttle {spec}, L={latency_ms:g} ms", file=sys.stderr)
            row = throttled_apply(inventory, folder / "emu", spec, latency_ms, c)
            rows.append({"fleet": label, "throttle": spec, **row})
            print(f"throttle: {label}: {row}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if as_json:
        doc = {**fleet_header(users, secrets, latency_ms, c), "fleets": rows}
        print(json.dumps(doc, indent=2))
    else:
        print_throttle(rows, sys.stdout)
    return 0 if all(r["failed_tenants"] == 0 and r["exit_code"] == 0 for r in rows) else 1
