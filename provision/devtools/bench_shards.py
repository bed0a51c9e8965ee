"""`invoke bench --workers N`: the first apply with the fleet split across N processes.

Each worker is an ordinary ``invoke apply --endpoints FILE --tenant ...`` process over every
N-th tenant, with ``--max-concurrency C/N`` so that the fleet-wide bound on requests in flight
stays C: the split a GitHub Actions matrix makes with ``invoke matrix --chunks N``, on one
machine. Each worker's CPU time and peak resident memory come from `os.wait4` (its own, not
the emulator's); with one worker this is one plain `invoke apply` (interpreter start included),
which `invoke bench --scale` measures at each fleet size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from provision.devtools.emulator_process import EmulatorProcess, child_env, project_root
from provision.emulator.requestlog import count_reads_writes
from provision.errors import ProvisionError

__all__ = ["Sharded", "sharded_apply"]


@dataclass
class Sharded:
    workers: int
    wall_s: float
    cpu_s: float
    requests: int
    peak_rss_mb: float
    writes: int = 0


def sharded_apply(
    inventory: Path, emu: EmulatorProcess, tenants: list[str], workers: int, concurrency: int
) -> Sharded:
    """Run the first apply as `workers` processes on disjoint tenants; wait for all of them."""
    per_worker = max(1, concurrency // workers)
    shards = [tenants[i::workers] for i in range(workers)]
    offset = emu.log_offset()
    logs = [tempfile.TemporaryFile() for _ in shards]  # noqa: SIM115 (closed below)
    started = time.perf_counter()
    procs = []
    for shard, log in zip(shards, logs, strict=True):
        args = [sys.executable, "-m", "invoke", "apply", "-i", str(inventory)]
        args += ["--endpoints", str(emu.endpoints_file), "--max-concurrency", str(per_worker)]
        for name in shard:
            args += ["--tenant", name]
        procs.append(
            subprocess.Popen(  # noqa: S603 (our own interpreter and task)
                [*args, "--json"],
                cwd=str(project_root()),
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
    cpu, peak, failures = 0.0, 0, []
    for proc, log in zip(procs, logs, strict=True):
        # wait4: this worker's own CPU time and peak resident set (not the emulator's)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        peak = max(peak, usage.ru_maxrss)
        if proc.returncode != 0:
            log.seek(0)
            failures.append(log.read().decode(errors="replace").strip()[-300:])
        log.close()
    wall = time.perf_counter() - started
    if failures:
        raise ProvisionError(f"apply in {workers} processes: {len(failures)} failed: {failures[0]}")
    entries = emu.log_since(offset)
    return Sharded(
        workers=workers,
        wall_s=wall,
        cpu_s=cpu,
        requests=len(entries),
        peak_rss_mb=peak / 1024.0,  # Linux: kilobytes
        writes=count_reads_writes(entries)[1],
    )
