"""`invoke bench`: how fast does a fleet onboard, and how far is that from what is possible?

One run measures, against the local emulator started as a separate process (so the server does
not share the client's GIL) with a fixed latency L added to every response:

- first apply of a synthetic fleet (wall time, reads and writes from the emulator's request log,
  client CPU time of this process), through the code path of ``invoke apply --endpoints FILE``
  (`prepare` + `endpoints_for` + `run_engine`; the report is not printed);
- the same first apply at ``max_concurrency=1`` on a fresh emulator: the sequential baseline;
- a no-op re-apply on the first emulator (wall, reads, writes);
- the latency floor: the longest chain of dependent requests of one tenant x L, counted from the
  request log of a 1-tenant apply of the same shape on its own emulator with a large latency
  L_probe and unbounded concurrency (see `_chain_from_log`);
- the throughput floor: requests of the first apply x L / C (C: the effective concurrency);
- start-up wall time of ``invoke --list`` and ``invoke validate -i examples/inventory.yaml``
  (subprocesses, best of 3);
- the raw baseline: the first apply's requests replayed without the SDKs at the same
  concurrency on a fresh emulator (`raw_client`), three times (the median by CPU counts), for the
  client's CPU per request / the raw client's, a ratio that means the same on a fast or a slow
  machine.

``--profile`` adds a cProfile of a first apply (`bench_profile`), ``--workers N`` the first
apply split across N ``invoke apply`` processes (`bench_shards`); ``--scale`` runs
`bench_scale` instead.

Reads and writes are counted by the emulator's one rule, `provision.emulator.requestlog.is_write`
(a ``ListWorkspaceKeys`` POST is a read, a ``LeaseFile`` PUT a write).

Fairness. The 1-tenant probe runs first, so the SDK's lazy imports are paid before any timed
phase. Timed phases include `prepare` (load, render, schema check), as ``invoke apply`` does. The
bench's emulators snapshot their state only when they stop (see SNAPSHOT_EVERY_S). `--quick`
replaces the fleet values left at their defaults (6 tenants x 2 users x 3 secrets, L=20 ms);
explicitly given ones win.

Per-tenant request counts by operation, the dependency chain wave by wave, CPU time of client and
emulator, and the checks against the targets are printed on stderr; stdout holds only the table
(or the JSON document); see `bench_report`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provision.devtools.bench_profile import Profile, ThreadProfiler, print_profile, summarise
from provision.devtools.bench_report import BenchFigures, print_details, print_signin, print_table
from provision.devtools.bench_shards import sharded_apply
from provision.devtools.emulator_process import EmulatorProcess, child_env, project_root
from provision.devtools.fleet import write_fleet
from provision.devtools.raw_client import replay
from provision.emulator.requestlog import READ_ONLY_SERVICES, count_reads_writes
from provision.errors import Problem, ProvisionError, UserInputError

__all__ = ["BenchError", "run_bench", "run_bench_scale"]

QUICK = {"tenants": 6, "users": 2, "secrets": 3, "latency_ms": 20.0}
DEFAULTS = {"tenants": 50, "users": 3, "secrets": 5, "latency_ms": 50.0}
# The raw replay is cheap and its CPU figure moves by +-15 % with the machine's load: the ratio
# uses the median of several replays, each on a fresh emulator.
RAW_REPLAYS = 3
PROBE_CONCURRENCY = 256  # "unbounded" for one tenant: more than any tenant has in flight
# The emulator snapshots its whole world (file contents included) every 0.5 s while it changes:
# for a 50-tenant fleet an 8 MB JSON taking ~100 ms of its event loop, which stalls every request
# in flight and would be charged to the client. Azure has no such pause, so the bench's emulators
# snapshot only when they stop.
SNAPSHOT_EVERY_S = 3600.0


class BenchError(ProvisionError):
    """The benchmark could not run (an emulator did not start, a tenant failed, ...)."""


def _emulator(state_dir: Path, seed: Path, latency_ms: float) -> EmulatorProcess:
    return EmulatorProcess(state_dir, seed, latency_ms, snapshot_every_s=SNAPSHOT_EVERY_S)


# --- one apply, the way `invoke apply --endpoints FILE` runs it --------------------------------


@dataclass
class Phase:
    wall_s: float
    cpu_s: float
    entries: list[dict[str, Any]]
    prepare_s: float = 0.0
    prepare_cpu_s: float = 0.0
    changes: int = 0
    server_cpu_s: float | None = None
    discarded_connections: int = 0

    @property
    def reads(self) -> int:
        return count_reads_writes(self.entries)[0]

    @property
    def writes(self) -> int:
        return count_reads_writes(self.entries)[1]


class _Status:
    """Progress lines on the real stderr, also while the engine's own output is suppressed."""

    def __init__(self) -> None:
        self.stream = sys.stderr

    def __call__(self, text: str) -> None:
        print(f"bench: {text}", file=self.stream, flush=True)


class _PoolFullCounter(logging.Filter):
    """Counts (and keeps off the screen) urllib3's 'Connection pool is full' warnings: each is a
    connection opened beyond the pool's size and closed after one use (a TLS handshake lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "Connection pool is full" in record.getMessage():
            self.count += 1
            return False
        return True


@contextlib.contextmanager
def _silenced() -> Iterator[_PoolFullCounter]:
    """The engine's output off the screen: stdout, stderr and urllib3's pool warnings."""
    sink = io.StringIO()
    counter = _PoolFullCounter()
    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.addFilter(counter)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield counter
    finally:
        pool_log.removeFilter(counter)


def _apply(
    inventory: Path,
    emu: EmulatorProcess,
    max_concurrency: int,
    status: _Status,
    label: str,
    expected_requests: int = 0,
    profiler: ThreadProfiler | None = None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
    endpoints_file: Path | None = None,
) -> Phase:
    from provision.commands.common import endpoints_for, prepare, run_engine
    from provision.options import DEFAULT_MAX_CONCURRENCY, RunOptions

    opts = RunOptions(
        inventory=str(inventory),
        endpoints=str(endpoints_file or emu.endpoints_file),
        max_concurrency=max_concurrency or DEFAULT_MAX_CONCURRENCY,
        auth=auth,
        allow_unencrypted_cache=allow_unencrypted_cache,
    )
    stop = threading.Event()
    offset = emu.log_offset()
    started = time.perf_counter()

    def report_progress() -> None:
        while not stop.wait(10.0):
            done = len(emu.log_since(offset))
            of = f"/~{expected_requests}" if expected_requests else ""
            status(f"{label}: {done}{of} requests, {time.perf_counter() - started:.0f} s")

    watcher = threading.Thread(target=report_progress, name="bench-progress", daemon=True)
    watcher.start()
    server0 = emu.cpu_s()
    cpu0 = time.process_time()
    profiling = profiler.active() if profiler else contextlib.nullcontext()
    try:
        with profiling, _silenced() as pool_full:
            inv, renders = prepare(opts.inventory, list(opts.tenant), opts.templates)
            prepared, prepared_cpu = time.perf_counter(), time.process_time()
            with endpoints_for(opts, inv) as ep:
                results = run_engine("apply", opts, inv, renders, ep)
    finally:
        stop.set()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    server1 = emu.cpu_s()
    watcher.join(timeout=1)
    failed = [f"{r.tenant}: {r.error}" for r in results if r.error]
    if failed:
        raise BenchError(f"{label}: {len(failed)} tenants failed: " + "; ".join(failed[:5]))
    return Phase(
        wall_s=wall,
        cpu_s=cpu,
        entries=emu.log_since(offset),
        prepare_s=prepared - started,
        prepare_cpu_s=prepared_cpu - cpu0,
        changes=sum(len(r.changes) for r in results),
        server_cpu_s=None if server0 is None or server1 is None else server1 - server0,
        discarded_connections=pool_full.count,
    )


def _cpu_text(p: Phase) -> str:
    server = "?" if p.server_cpu_s is None else f"{p.server_cpu_s:.2f}"
    text = f"CPU: client {p.cpu_s:.2f} s, emulator {server} s"
    if p.discarded_connections:
        text += f"; {p.discarded_connections} connections discarded (HTTP pool full)"
    return text


# --- the latency chain ---------------------------------------------------------------------------


def _chain_from_log(entries: list[dict[str, Any]], probe_ms: float) -> tuple[int, list[list[str]]]:
    """(chain length, ops per wave) of a 1-tenant apply logged at latency `probe_ms`.

    With a large latency every round trip on the dependency path puts `probe_ms` between reply
    times, while requests sent together (no dependency between them) are answered within a few
    milliseconds of each other. Replies less than half a latency apart form one wave; the number
    of waves is the number of dependent round trips. (The span of reply times divided by
    `probe_ms` over-counts slightly: client work between hops adds a few ms to every hop; the
    wall time of the probe / `probe_ms` is printed as a cross-check.)
    """
    if not entries:
        return 0, []
    stamps = sorted((float(e["ts"]), str(e.get("op")), int(e.get("status", 0))) for e in entries)
    waves: list[list[str]] = [[]]
    last = stamps[0][0]
    for ts, op, code in stamps:
        if ts - last > probe_ms / 2000.0:
            waves.append([])
        waves[-1].append(f"{op}({code})" if code >= 400 or code == 0 else op)
        last = ts
    return len(waves), waves


def _overlapped(entries: list[dict[str, Any]], latency_ms: float) -> int:
    """Replies less than half a latency after the previous one: with one request on the wire at
    a time every reply comes at least one latency after the one before."""
    if latency_ms <= 0:
        return 0
    stamps = sorted(float(e["ts"]) for e in entries)
    return sum(1 for a, b in itertools.pairwise(stamps) if b - a < latency_ms / 2000.0)


# --- start-up timing ------------------------------------------------------------------------------


def _best_of(args: list[str], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 (our own interpreter)
            [sys.executable, "-m", "invoke", *args],
            cwd=str(project_root()),
            env=child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode(errors="replace").strip()[-300:]
            raise BenchError(f"invoke {' '.join(args)} failed: {tail}")
        best = min(best, elapsed)
    return best


# --- per-tenant accounting -----------------------------------------------------------------


def _tenant_of(inventory: Path) -> Any:
    """A function from a requests.jsonl line to the tenant it concerns (or '?')."""
    from provision.emulator.seed import seed_tenants_from_inventory, storage_account_name
    from provision.inventory.load import load_inventory

    inv = load_inventory(inventory)
    by_rg = {t.resource_group.lower(): t.name for t in inv.tenants}
    by_vault = {t.key_vault.lower(): t.name for t in inv.tenants}
    by_account = {
        storage_account_name(s): t.name
        for s, t in zip(seed_tenants_from_inventory(inv), inv.tenants, strict=True)
    }
    rg_re = re.compile(r"/resourcegroups/([^/]+)", re.IGNORECASE)

    def tenant(entry: dict[str, Any]) -> str:
        path = str(entry.get("path", ""))
        service = entry.get("service")
        if service == "arm":
            m = rg_re.search(path)
            return by_rg.get(m.group(1).lower(), "?") if m else "?"
        segments = path.strip("/").split("/")
        if service == "keyvault" and len(segments) > 1:
            return by_vault.get(segments[1].lower(), "?")
        return by_account.get(segments[0].lower(), "?") if segments else "?"

    return tenant


def _signin_requests(entries: list[dict[str, Any]]) -> int:
    """Requests to the identity endpoints (token and authority metadata): they read nothing of
    a tenant's resources, and their number depends on the credential, not on the tool."""
    return sum(1 for e in entries if e.get("service") in READ_ONLY_SERVICES)


def _per_tenant_ops(entries: list[dict[str, Any]], tenant: Any, tenants: int) -> dict[str, Any]:
    """Requests per tenant by operation (mean over tenants, with min-max when they differ)."""
    per: dict[str, Counter[str]] = {}
    for e in entries:
        key = f"{e.get('op')}" + (f"({e.get('status')})" if int(e.get("status", 0)) >= 400 else "")
        per.setdefault(tenant(e), Counter())[key] += 1
    ops = sorted({op for c in per.values() for op in c})
    names = [n for n in per if n != "?"]
    table: dict[str, Any] = {}
    for op in ops:
        counts = [per[n][op] for n in names] + [0] * (tenants - len(names))
        lo, hi = min(counts), max(counts)
        table[op] = lo if lo == hi else f"{sum(counts) / len(counts):.2f} ({lo}-{hi})"
    if "?" in per:
        table["(no tenant)"] = dict(per["?"])
    return table


def _kind_totals(entries: list[dict[str, Any]], tenants: int) -> tuple[float, float]:
    reads, writes = count_reads_writes(entries)
    return reads / tenants, writes / tenants


# --- the run -------------------------------------------------------------------------------


def _resolve_params(
    tenants: int, users: int, secrets: int, latency_ms: float, quick: bool
) -> dict[str, Any]:
    given = {"tenants": tenants, "users": users, "secrets": secrets, "latency_ms": latency_ms}
    if quick:  # --quick replaces the values left at their defaults; explicit ones win
        given = {k: QUICK[k] if v == DEFAULTS[k] else v for k, v in given.items()}
    if given["latency_ms"] < 0:
        raise UserInputError([Problem(f"--latency-ms {latency_ms}: must be >= 0")])
    return given


def _measure(
    work: Path,
    p: dict[str, Any],
    concurrency: int,
    status: _Status,
    profiled: bool = False,
    workers: int = 0,
) -> BenchFigures:
    from provision.commands.common import prepare

    tenants, users, secrets, latency = p["tenants"], p["users"], p["secrets"], p["latency_ms"]
    inventory = write_fleet(work / "fleet", tenants, users, secrets).path
    probe_inventory = write_fleet(work / "probe", 1, users, secrets).path
    prepare(str(inventory), [], None, check_secrets=True)  # fail fast; warms imports
    import provision.azure
    import provision.engine  # noqa: F401
    from provision.options import DEFAULT_MAX_CONCURRENCY

    effective = concurrency or DEFAULT_MAX_CONCURRENCY
    tenant_of = _tenant_of(inventory)
    out = BenchFigures(
        params={
            "tenants": tenants,
            "users": users,
            "secrets": secrets,
            "latency_ms": latency,
            "max_concurrency": effective,
            "cpu_count": os.cpu_count(),
            "python_version": platform.python_version(),
        }
    )

    status(
        f"fleet: {tenants} tenants x {users} users x {secrets} secrets, L={latency:g} ms, "
        f"C={effective}"
    )
    # The 1-tenant probe runs first: besides the chain it runs every code path once, so the
    # SDK's lazy imports are not charged to the first apply (and not to it alone).
    probe_ms = max(200.0, 4.0 * latency)
    status(f"latency chain: 1-tenant apply, C={PROBE_CONCURRENCY}, L_probe={probe_ms:g} ms...")
    with _emulator(work / "emu-probe", probe_inventory, probe_ms) as emu:
        probe = _apply(probe_inventory, emu, PROBE_CONCURRENCY, status, "probe")
    chain, waves = _chain_from_log(probe.entries, probe_ms)
    status(
        f"latency chain: {chain} dependent round trips "
        f"(wall/L_probe = {probe.wall_s / (probe_ms / 1000):.1f})"
    )

    with _emulator(work / "emu-first", inventory, latency) as emu:
        status("first apply (concurrent)...")
        first = _apply(inventory, emu, concurrency, status, "first apply")
        status(
            f"first apply: {first.wall_s:.2f} s (prepare {first.prepare_s:.2f} s), "
            f"{len(first.entries)} requests, {first.changes} changes, {_cpu_text(first)}"
        )
        status("no-op re-apply...")
        noop = _apply(inventory, emu, concurrency, status, "no-op apply")
        status(
            f"no-op apply: {noop.wall_s:.2f} s (prepare {noop.prepare_s:.2f} s), "
            f"{len(noop.entries)} requests, {_cpu_text(noop)}"
        )
    if noop.changes:
        raise BenchError(f"no-op re-apply still found {noop.changes} changes")

    status(
        f"raw baseline: the first apply's {len(first.entries)} requests without the SDKs, "
        f"{RAW_REPLAYS} times..."
    )
    replays = []
    for i in range(RAW_REPLAYS):
        with _emulator(work / f"emu-raw-{i}", inventory, latency) as emu:
            replays.append(replay(first.entries, emu.endpoints(), effective))
    raw = sorted(replays, key=lambda r: r.cpu_s)[RAW_REPLAYS // 2]
    status(
        f"raw baseline (median of {RAW_REPLAYS} by CPU): {raw.wall_s:.2f} s, CPU {raw.cpu_s:.2f} s "
        f"({raw.cpu_per_request_ms:.3f} ms per request; all: "
        + ", ".join(f"{r.cpu_per_request_ms:.3f}" for r in replays)
        + f"), answers {dict(raw.statuses)}"
    )
    sharded = None
    if workers:
        status(f"first apply split across {workers} invoke apply processes...")
        from provision.inventory.load import load_inventory

        names = [t.name for t in load_inventory(inventory).tenants]
        with _emulator(work / "emu-workers", inventory, latency) as emu:
            sharded = sharded_apply(inventory, emu, names, workers, effective)
        status(
            f"{workers} processes: {sharded.wall_s:.2f} s, {sharded.requests} requests, "
            f"CPU {sharded.cpu_s:.2f} s (interpreter start-up included), "
            f"largest worker {sharded.peak_rss_mb:.0f} MB"
        )
    profile: Profile | None = None
    if profiled:
        status("profile: first apply under cProfile on a fresh emulator...")
        profiler = ThreadProfiler()
        with _emulator(work / "emu-profile", inventory, latency) as emu:
            prof = _apply(inventory, emu, concurrency, status, "profiled", profiler=profiler)
        profile = summarise(
            profiler, len(prof.entries), prof.cpu_s - prof.prepare_cpu_s, _apply_cpu(first)
        )

    status(f"sequential baseline (C=1, ~{len(first.entries)} requests x {latency:g} ms)...")
    with _emulator(work / "emu-sequential", inventory, latency) as emu:
        seq = _apply(inventory, emu, 1, status, "sequential", expected_requests=len(first.entries))
    status(
        f"sequential: {seq.wall_s:.1f} s (prepare {seq.prepare_s:.2f} s), "
        f"{len(seq.entries)} requests, {_cpu_text(seq)}"
    )
    overlapped = _overlapped(seq.entries, latency)
    if overlapped:
        status(
            f"sequential: {overlapped} of {len(seq.entries)} replies came less than L/2 after "
            "the previous one: requests overlapped although max_concurrency=1"
        )

    status("start-up: invoke --list, invoke validate (best of 3)...")
    list_s = _best_of(["--list"])
    validate_s = _best_of(["validate", "-i", "examples/inventory.yaml"])

    latency_floor = chain * latency / 1000.0
    throughput_floor = len(first.entries) * latency / 1000.0 / effective
    floor = max(latency_floor, throughput_floor)
    out.figures = {
        "first_apply_s": round(first.wall_s, 3),
        "sequential_s": round(seq.wall_s, 3),
        "noop_apply_s": round(noop.wall_s, 3),
        "first_reads": first.reads,
        "first_writes": first.writes,
        "noop_reads": noop.reads,
        "noop_signin_requests": _signin_requests(noop.entries),
        "noop_writes": noop.writes,
        "latency_floor_s": round(latency_floor, 3),
        "throughput_floor_s": round(throughput_floor, 3),
        "client_cpu_s": round(first.cpu_s, 3),
        "client_cpu_per_request_ms": round(_per_request_ms(_apply_cpu(first), first.entries), 3),
        "raw_cpu_per_request_ms": round(raw.cpu_per_request_ms, 3),
        "client_to_raw_cpu_ratio": round(_apply_cpu(first) / raw.cpu_s if raw.cpu_s else 0.0, 2),
        "speedup_vs_sequential": round(seq.wall_s / first.wall_s, 2) if first.wall_s else 0.0,
        "ratio_to_floor": round(first.wall_s / floor, 2) if floor else 0.0,
        "list_s": round(list_s, 3),
        "validate_s": round(validate_s, 3),
    }
    out.details = {
        "chain": chain,
        "probe_ms": probe_ms,
        "probe_wall_s": round(probe.wall_s, 3),
        "waves": waves,
        "first_prepare_s": round(first.prepare_s, 3),
        "first_requests": len(first.entries),
        "noop_cpu_s": round(noop.cpu_s, 3),
        "sequential_cpu_s": round(seq.cpu_s, 3),
        "first_per_tenant": _per_tenant_ops(first.entries, tenant_of, tenants),
        "noop_per_tenant": _per_tenant_ops(noop.entries, tenant_of, tenants),
        "first_rw_per_tenant": _kind_totals(first.entries, tenants),
        "noop_rw_per_tenant": _kind_totals(noop.entries, tenants),
        "raw_wall_s": round(raw.wall_s, 3),
        "raw_statuses": dict(raw.statuses),
        "raw_cpu_per_request_ms_all": [round(r.cpu_per_request_ms, 3) for r in replays],
        "first_prepare_cpu_s": round(first.prepare_cpu_s, 3),
        "discarded_connections": first.discarded_connections,
    }
    if sharded is not None:
        out.details["workers"] = {
            "workers": workers,
            "first_apply_s": round(sharded.wall_s, 3),
            "client_cpu_s": round(sharded.cpu_s, 3),
            "requests": sharded.requests,
        }
    out.profile = profile
    out.signin = _signin_dimension(work, p, concurrency, status)
    return out


def _signin_sizes(p: dict[str, Any]) -> list[int]:
    """The fleet sizes of the sign-in dimension: the bench's, and 10 tenants below it."""
    return sorted({min(10, p["tenants"]), p["tenants"]})


def _signin_dimension(
    work: Path, p: dict[str, Any], concurrency: int, status: _Status
) -> list[dict[str, Any]]:
    """Per `--auth` mode and fleet size, what the tokens cost (`bench_signin`)."""
    from provision.devtools.bench_signin import measure_signin

    def fleet(folder: Path, size: int) -> Path:
        return write_fleet(folder, size, p["users"], p["secrets"]).path

    def emulator(folder: Path, inventory: Path) -> EmulatorProcess:
        return _emulator(folder, inventory, p["latency_ms"])

    def apply(inventory: Path, emu: EmulatorProcess, label: str, **auth: Any) -> Phase:
        return _apply(inventory, emu, concurrency, status, label, **auth)

    return measure_signin(work, _signin_sizes(p), fleet, emulator, apply, status)


def _apply_cpu(p: Phase) -> float:
    """Client CPU of an apply's requests: its CPU time without `prepare` (load, render, schema
    check), which sends nothing."""
    return p.cpu_s - p.prepare_cpu_s


def _per_request_ms(seconds: float, entries: list[dict[str, Any]]) -> float:
    return 1000.0 * seconds / len(entries) if entries else 0.0


def run_bench(
    *,
    tenants: int,
    users: int,
    secrets: int,
    latency_ms: float,
    max_concurrency: int,
    quick: bool,
    as_json: bool,
    profile: bool = False,
    workers: int = 0,
    signin: bool = False,
) -> int:
    """Run the benchmark; print a table (or JSON with `as_json`); return the exit code (0).
    With `signin`, only its sign-in dimension."""
    if max_concurrency < 0:
        raise UserInputError([Problem(f"--max-concurrency {max_concurrency}: must be >= 0")])
    if workers < 0:
        raise UserInputError([Problem(f"--workers {workers}: must be >= 0")])
    params = _resolve_params(tenants, users, secrets, latency_ms, quick)
    status = _Status()
    work = Path(tempfile.mkdtemp(prefix="msticpy-provision-bench-"))
    started = time.perf_counter()
    try:
        if signin:
            rows = _signin_dimension(work, params, max_concurrency, status)
            print_signin(rows, as_json, params)
            return 0
        result = _measure(work, params, max_concurrency, status, profiled=profile, workers=workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_details(result, status.stream, targets=as_json)
    if result.profile is not None:
        print_profile(result.profile, status.stream)
    status(f"bench finished in {time.perf_counter() - started:.1f} s")
    if as_json:
        print(json.dumps(result.document(), indent=2))
    else:
        print_table(result)
    return 0


def run_bench_scale(
    sizes: str, *, users: int, secrets: int, latency_ms: float, max_concurrency: int, as_json: bool
) -> int:
    """`invoke bench --scale`: first and no-op apply at each fleet size (see bench_scale)."""
    from provision.devtools.bench_scale import SCALE_SIZES, run_scale

    try:
        counts = tuple(int(x) for x in sizes.split(",") if x.strip()) if sizes else SCALE_SIZES
    except ValueError:
        raise UserInputError(
            [Problem(f"--sizes {sizes!r}: expected numbers, e.g. 10,50")]
        ) from None
    if not counts or any(n < 1 for n in counts):
        raise UserInputError([Problem(f"--sizes {sizes!r}: expected numbers >= 1")])
    return run_scale(counts, users, secrets, latency_ms, max_concurrency, as_json, _Status())
