"""Throughput of the emulator: requests per second answered over HTTPS.

Not collected by pytest (the name does not start with test_). Run:

    .venv/bin/python -m provision.devtools.bench_throughput [--seconds 5] [--concurrency 32]

The emulator runs in its own process (as under ``invoke emulator``), seeded with one tenant.
Two kinds of client measure it from this process:

- raw: aiohttp with CONCURRENCY requests in flight, each a Key Vault GetSecret with the bearer
  token (and a Shared-Key-free Files read is not possible, so Files is measured by the SDK);
- sdk: PROCS processes of THREADS threads, each thread with its own official SecretClient /
  ShareFileClient, calling get_secret / get_file_properties in a loop.

For each it also reads the emulator process's CPU time (/proc) to give the server's CPU cost
per request and the rate one server core could sustain at that cost. On a 2-core machine the SDK
figures are bounded by the client process (the SDK spends more CPU per call than the server).

Prints one line per measurement and the figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provision.devtools.clients import secret_client, share_client
from provision.devtools.emulator_process import EmulatorProcess
from provision.emulator import Emulator, SeedTenant

ROOT = Path(__file__).resolve().parents[2]

TENANT = SeedTenant(
    tenant_id="0f0e0d0c-0000-4000-8000-000000000001",
    subscription_id="0f0e0d0c-0000-4000-8000-000000000002",
    resource_group="rg-bench",
    workspace="ws-bench",
    key_vault="kv-bench",
    users=[("bench", "ci-bench")],
)


def _start_server(state_dir: Path) -> EmulatorProcess:
    with Emulator(state_dir) as emu:  # seed once; the child process loads the saved state
        emu.seed([TENANT])
    return EmulatorProcess(state_dir, cwd=ROOT, start_timeout_s=20).start()


async def _raw(endpoints: dict[str, Any], seconds: float, concurrency: int) -> float:
    import aiohttp

    ctx = ssl.create_default_context(cafile=endpoints["ca_cert"])
    url = endpoints["keyvault"].format(vault="kv-bench") + "/secrets/bench?api-version=7.6"
    headers = {"Authorization": f"Bearer {endpoints['token']}"}
    done = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(ssl=ctx, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise SystemExit(f"unexpected status {resp.status}")
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - start)


def _sdk(endpoints: dict[str, Any], seconds: float, threads: int, kind: str, procs: int) -> float:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(procs) as pool:
        start = time.monotonic()
        counts = pool.starmap(_sdk_process, [(endpoints, seconds, threads, kind)] * procs)
        return sum(counts) / (time.monotonic() - start)


def _sdk_process(endpoints: dict[str, Any], seconds: float, threads: int, kind: str) -> int:
    account = next(iter(endpoints["storage_keys"]))
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def worker(i: int) -> None:
        call: Callable[[], object]
        if kind == "keyvault":
            client = secret_client(endpoints, "kv-bench")
            call = functools.partial(client.get_secret, "bench")
        else:
            call = share_client(endpoints, account).get_file_client("bench.txt").get_file_properties
        call()
        while time.monotonic() < stop_at:
            call()
            counts[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts)


def _measure(emu: EmulatorProcess, run: Any) -> dict[str, float]:
    cpu0, wall0 = emu.cpu_s() or 0.0, time.monotonic()
    rate = float(run())
    cpu, wall = (emu.cpu_s() or 0.0) - cpu0, time.monotonic() - wall0
    per_request_ms = 1000 * cpu / max(1.0, rate * wall)
    return {
        "req_per_s": rate,
        "server_cpu_ms_per_req": per_request_ms,
        "server_core_capacity_req_per_s": 1000 / per_request_ms if per_request_ms else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp)
        emu = _start_server(state_dir)
        try:
            endpoints = emu.endpoints()
            secret_client(endpoints, "kv-bench").set_secret("bench", "v")
            account = next(iter(endpoints["storage_keys"]))
            share_client(endpoints, account).get_file_client("bench.txt").upload_file(b"bench")
            secs = args.seconds
            figures = {
                "raw_aiohttp_keyvault_get": _measure(
                    emu, lambda: asyncio.run(_raw(endpoints, secs, args.concurrency))
                ),
                "sdk_keyvault_get_secret": _measure(
                    emu, lambda: _sdk(endpoints, secs, args.threads, "keyvault", args.procs)
                ),
                "sdk_files_get_file_properties": _measure(
                    emu, lambda: _sdk(endpoints, secs, args.threads, "files", args.procs)
                ),
            }
        finally:
            emu.stop()
        lines = sum(1 for _ in (state_dir / "requests.jsonl").open())
    for name, fig in figures.items():
        print(
            f"{name:32s} {fig['req_per_s']:7.0f} req/s   server "
            f"{fig['server_cpu_ms_per_req']:.2f} ms CPU/req "
            f"(= {fig['server_core_capacity_req_per_s']:.0f} req/s per core)"
        )
    print(f"(cores: {os.cpu_count()}, requests logged: {lines})")
    print(json.dumps({k: {n: round(v, 2) for n, v in fig.items()} for k, fig in figures.items()}))


if __name__ == "__main__":
    main()
