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
  (subprocesses, best of 3).

Reads and writes. A logged request is a *write* when it changes state: its method is PUT, POST,
PATCH or DELETE and its operation is not a read served over POST or PUT (operations named
``Get*``/``List*`` such as ARM's ``ListWorkspaceKeys`` (POST), and Key Vault's
``BackupSecret``). Everything else is a *read*: GET and HEAD, including the Key Vault 401 auth
challenge, which is a GET answered 401. So Azure Files ``LeaseFile`` (acquire and release the
tenant lock) and ``SetFileMetadata`` count as writes, ``ListWorkspaceKeys`` counts as a read.

Fairness. The 1-tenant probe runs first, so the SDK's lazy imports are paid before any timed
phase. Timed phases include `prepare` (load, render, schema check), as ``invoke apply`` does. The
bench's emulators snapshot their state only when they stop (see SNAPSHOT_EVERY_S). `--quick`
replaces the fleet values left at their defaults (6 tenants x 2 users x 3 secrets, L=20 ms);
explicitly given ones win.

Per-tenant request counts by operation, the dependency chain wave by wave, CPU time of client and
emulator, and the checks against the targets are printed on stderr; stdout holds only the table
(or the JSON document).
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
import secrets as _random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from provision.errors import Problem, ProvisionError, UserInputError

__all__ = ["BenchError", "BenchFigures", "classify", "generate_inventory", "run_bench"]

# The TI providers whose only secret is `args.auth_key` (one Key Vault secret each), then other
# single-secret settings for fleets that want more than eight secrets per tenant.
_KEY_PROVIDERS = (
    "VirusTotal",
    "OTX",
    "GreyNoise",
    "AbuseIPDB",
    "Pulsedive",
    "IPQualityScore",
    "BinaryEdge",
    "OpenPageRank",
)
_API_ID_PROVIDERS = ("RiskIQ", "IntSights")
_EXTRA_UNITS = ("GeoIP", "AzureCLI", "MicrosoftDefender", "MicrosoftGraph", "Splunk")
SECRET_UNITS = (*_KEY_PROVIDERS, *_API_ID_PROVIDERS, *_EXTRA_UNITS)
MAX_SECRETS = len(SECRET_UNITS)

QUICK = {"tenants": 6, "users": 2, "secrets": 3, "latency_ms": 20.0}
DEFAULTS = {"tenants": 50, "users": 3, "secrets": 5, "latency_ms": 50.0}
PROBE_CONCURRENCY = 256  # "unbounded" for one tenant: more than any tenant has in flight
START_TIMEOUT_S = 90.0
# The emulator snapshots its whole world (file contents included) every 0.5 s while it changes:
# for a 50-tenant fleet an 8 MB JSON taking ~100 ms of its event loop, which stalls every request
# in flight and would be charged to the client. Azure has no such pause, so the bench's emulators
# snapshot only when they stop.
SNAPSHOT_EVERY_S = 3600.0
_NS = uuid.UUID("3b0c8c9e-2f4d-4a57-9b8e-6d1f0c7a5e42")
_WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})
_READ_OPS_OVER_WRITE_METHODS = frozenset({"BackupSecret"})

JSON_KEYS = (
    "first_apply_s",
    "sequential_s",
    "noop_apply_s",
    "first_reads",
    "first_writes",
    "noop_reads",
    "noop_writes",
    "latency_floor_s",
    "throughput_floor_s",
    "client_cpu_s",
    "speedup_vs_sequential",
    "ratio_to_floor",
    "list_s",
    "validate_s",
)


class BenchError(ProvisionError):
    """The benchmark could not run (an emulator did not start, a tenant failed, ...)."""


# --- request classification -------------------------------------------------------------------


def classify(entry: dict[str, Any]) -> str:
    """'read' or 'write' for one requests.jsonl line (see the module docstring)."""
    method = str(entry.get("method", "")).upper()
    op = str(entry.get("op", ""))
    if method not in _WRITE_METHODS:
        return "read"
    if op.startswith(("Get", "List")) or op in _READ_OPS_OVER_WRITE_METHODS:
        return "read"
    return "write"


def _reads_writes(entries: list[dict[str, Any]]) -> tuple[int, int]:
    writes = sum(1 for e in entries if classify(e) == "write")
    return len(entries) - writes, writes


# --- the synthetic fleet ----------------------------------------------------------------------


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _secret_unit(unit: str, ref: str, tenant_id: str, client_id: str) -> tuple[str, Any]:
    """(section, content) that adds exactly one secret-bearing setting to a tenant."""
    if unit in _KEY_PROVIDERS:
        return "ti", {"args": {"auth_key": ref}}
    if unit in _API_ID_PROVIDERS:
        return "ti", {"args": {"api_id": f"bench-{unit.lower()}", "auth_key": ref}}
    if unit == "GeoIP":
        return "geoip", {"provider": "GeoLiteLookup", "account_id": "100000", "auth_key": ref}
    if unit == "AzureCLI":  # a service principal: the tenant's auth methods include env
        return "data", {"client_id": client_id, "tenant_id": tenant_id, "client_secret": ref}
    if unit in ("MicrosoftDefender", "MicrosoftGraph"):
        return "data", {"client_id": client_id, "tenant_id": tenant_id, "client_secret": ref}
    if unit == "Splunk":
        return "data", {"host": "splunk.bench.example", "username": "bench", "password": ref}
    raise ValueError(unit)


def generate_inventory(folder: Path, tenants: int, users: int, secrets: int) -> Path:
    """Write a valid fleet inventory (t001.., users u1..uU, S `file:` secrets) into `folder`.

    GUIDs are unique per tenant and stable (uuid5 of the tenant name); secret values are random
    and live in `folder/secrets/`. Returns the inventory's path.
    """
    import yaml

    if not 1 <= tenants <= 9999:
        raise UserInputError([Problem(f"--tenants {tenants}: expected 1..9999")])
    if not 1 <= users <= 64:
        raise UserInputError([Problem(f"--users {users}: expected 1..64")])
    if not 0 <= secrets <= MAX_SECRETS:
        raise UserInputError([Problem(f"--secrets {secrets}: expected 0..{MAX_SECRETS}")])
    folder.mkdir(parents=True, exist_ok=True)
    secret_dir = folder / "secrets"
    secret_dir.mkdir(exist_ok=True)
    width = max(3, len(str(tenants)))
    out: list[dict[str, Any]] = []
    for i in range(1, tenants + 1):
        name = f"t{i:0{width}d}"
        tenant_id = _guid(name, "tenant")
        client_id = _guid(name, "client")
        entry: dict[str, Any] = {
            "name": name,
            "tenant_id": tenant_id,
            "subscription_id": _guid(name, "subscription"),
            "resource_group": f"rg-{name}",
            "ml_workspace": f"mlw-{name}",
            "key_vault": f"kv-{name}",
            "sentinel": [
                {
                    "name": "Main",
                    "workspace_id": _guid(name, "law"),
                    "workspace_name": f"law-{name}",
                    "default": True,
                }
            ],
            "users": [f"u{u}" for u in range(1, users + 1)],
        }
        ti: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for unit in SECRET_UNITS[:secrets]:
            secret_file = secret_dir / f"{name}-{unit.lower()}.txt"
            secret_file.write_text(f"bench-{_random.token_hex(16)}\n", encoding="utf-8")
            ref = f"file:secrets/{secret_file.name}"
            section, content = _secret_unit(unit, ref, tenant_id, client_id)
            if section == "ti":
                ti[unit] = content
            elif section == "geoip":
                entry["geoip"] = content
            else:
                data[unit] = content
        if ti:
            entry["ti_providers"] = ti
        if data:
            entry["data_providers"] = data
        if "AzureCLI" in data:
            entry["azure_auth_methods"] = ["env", "cli", "msi"]
        out.append(entry)
    doc = {"version": 1, "defaults": {"cloud": "global"}, "tenants": out}
    path = folder / "inventory.yaml"
    path.write_text(
        "# synthetic fleet generated by `invoke bench`\n" + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )
    return path


# --- the emulator as a separate process -------------------------------------------------------


def _project_root() -> Path:
    """The folder holding the `provision` package this process imported (and tasks.py)."""
    return Path(__file__).resolve().parents[1]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(_project_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


class EmulatorProcess:
    """`run_emulator` in a child process; ready once it prints 'serving' (seeded, endpoints.json
    written). Always stopped by `stop` (SIGTERM, then SIGKILL), also on errors and Ctrl-C."""

    def __init__(self, state_dir: Path, seed: Path, latency_ms: float) -> None:
        self.state_dir = state_dir
        self.seed = seed
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._output: list[str] = []
        self._stderr: IO[str] | None = None

    @property
    def endpoints_file(self) -> Path:
        return self.state_dir / "endpoints.json"

    @property
    def requests_file(self) -> Path:
        return self.state_dir / "requests.jsonl"

    def start(self) -> EmulatorProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        code = (
            "import sys\n"
            "import provision.emulator.server as server\n"
            "from provision.emulator.cli import run_emulator\n"
            "if hasattr(server, 'SAVE_INTERVAL_S'):\n"
            f"    server.SAVE_INTERVAL_S = {SNAPSHOT_EVERY_S!r}\n"
            f"sys.exit(run_emulator({str(self.state_dir)!r}, seed_inventory={str(self.seed)!r}, "
            f"latency_ms={float(self.latency_ms)!r}))\n"
        )
        self._stderr = (self.state_dir / "emulator.stderr").open("w", encoding="utf-8")
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", code],
            cwd=str(self.state_dir),
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the child ourselves
        )
        try:
            threading.Thread(target=self._drain, name="bench-emulator-stdout", daemon=True).start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not self._ready.wait(0.05):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"emulator did not start: {self._failure_text()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if len(self._output) < 200:
                self._output.append(line.rstrip())
            if line.startswith("serving"):
                self._ready.set()

    def _failure_text(self) -> str:
        err = ""
        with contextlib.suppress(OSError):
            err = (self.state_dir / "emulator.stderr").read_text(encoding="utf-8")
        text = " | ".join([*self._output[-5:], *err.strip().splitlines()[-5:]])
        return text or "no output"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)  # the emulator saves its state and exits
                proc.wait(timeout=15)
            except BaseException as exc:  # too slow, or a second Ctrl-C: leave no child behind
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
                if not isinstance(exc, subprocess.TimeoutExpired):
                    raise
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cpu_s(self) -> float | None:
        """CPU time (user + system) of the emulator process so far (Linux /proc; else None)."""
        if self.proc is None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text(encoding="ascii")
            fields = stat.rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def log_offset(self) -> int:
        try:
            return self.requests_file.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> list[dict[str, Any]]:
        """requests.jsonl lines appended after byte `offset` (complete lines only)."""
        out: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), self.requests_file.open("rb") as fh:
            fh.seek(offset)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                with contextlib.suppress(ValueError):
                    out.append(json.loads(raw))
        return out

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- one apply, the way `invoke apply --endpoints FILE` runs it --------------------------------


@dataclass
class Phase:
    wall_s: float
    cpu_s: float
    entries: list[dict[str, Any]]
    prepare_s: float = 0.0
    changes: int = 0
    server_cpu_s: float | None = None
    discarded_connections: int = 0

    @property
    def reads(self) -> int:
        return _reads_writes(self.entries)[0]

    @property
    def writes(self) -> int:
        return _reads_writes(self.entries)[1]


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
) -> Phase:
    from provision.commands.common import RunOptions, endpoints_for, prepare, run_engine

    opts = RunOptions(
        inventory=str(inventory), endpoints=str(emu.endpoints_file), max_concurrency=max_concurrency
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
    try:
        with _silenced() as pool_full:
            inv, renders = prepare(opts.inventory, opts.tenants, opts.templates)
            prepared = time.perf_counter()
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
            cwd=str(_project_root()),
            env=_child_env(),
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
    reads, writes = _reads_writes(entries)
    return reads / tenants, writes / tenants


# --- the run -------------------------------------------------------------------------------


@dataclass
class BenchFigures:
    params: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {**{k: self.figures[k] for k in JSON_KEYS}, **self.params}


def _resolve_params(
    tenants: int, users: int, secrets: int, latency_ms: float, quick: bool
) -> dict[str, Any]:
    given = {"tenants": tenants, "users": users, "secrets": secrets, "latency_ms": latency_ms}
    if quick:  # --quick replaces the values left at their defaults; explicit ones win
        given = {k: QUICK[k] if v == DEFAULTS[k] else v for k, v in given.items()}
    if given["latency_ms"] < 0:
        raise UserInputError([Problem(f"--latency-ms {latency_ms}: must be >= 0")])
    return given


def _measure(work: Path, p: dict[str, Any], concurrency: int, status: _Status) -> BenchFigures:
    from provision.commands.common import prepare

    tenants, users, secrets, latency = p["tenants"], p["users"], p["secrets"], p["latency_ms"]
    inventory = generate_inventory(work / "fleet", tenants, users, secrets)
    probe_inventory = generate_inventory(work / "probe", 1, users, secrets)
    prepare(str(inventory), [], None, check_secrets=True)  # fail fast; warms imports
    import provision.azure
    import provision.engine  # imported before timing, as a CLI run would

    effective = concurrency or provision.azure.DEFAULT_MAX_CONCURRENCY
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
    with EmulatorProcess(work / "emu-probe", probe_inventory, probe_ms) as emu:
        probe = _apply(probe_inventory, emu, PROBE_CONCURRENCY, status, "probe")
    chain, waves = _chain_from_log(probe.entries, probe_ms)
    status(
        f"latency chain: {chain} dependent round trips "
        f"(wall/L_probe = {probe.wall_s / (probe_ms / 1000):.1f})"
    )

    with EmulatorProcess(work / "emu-first", inventory, latency) as emu:
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

    status(f"sequential baseline (C=1, ~{len(first.entries)} requests x {latency:g} ms)...")
    with EmulatorProcess(work / "emu-sequential", inventory, latency) as emu:
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
        "noop_writes": noop.writes,
        "latency_floor_s": round(latency_floor, 3),
        "throughput_floor_s": round(throughput_floor, 3),
        "client_cpu_s": round(first.cpu_s, 3),
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
    }
    return out


def _checks(b: BenchFigures) -> list[tuple[str, bool]]:
    f, p = b.figures, b.params
    noop_read_budget = p["secrets"] + 2 * p["users"] + 3
    return [
        (
            "first apply <= 2 x max(latency floor, throughput floor)",
            f["ratio_to_floor"] <= 2.0,
        ),
        (">= 15x faster than sequential", f["speedup_vs_sequential"] >= 15.0),
        ("no-op re-apply: 0 writes", f["noop_writes"] == 0),
        (
            f"no-op re-apply: <= {noop_read_budget} reads per tenant (secrets + 2 x users + 3)",
            f["noop_reads"] <= noop_read_budget * p["tenants"],
        ),
        ("invoke --list < 0.5 s", f["list_s"] < 0.5),
        ("invoke validate (example) < 1 s", f["validate_s"] < 1.0),
    ]


def _print_details(b: BenchFigures, stream: IO[str], targets: bool) -> None:
    d = b.details
    print(
        "\nlatency chain of one tenant (replies grouped in waves, 1-tenant apply at "
        f"L_probe={d['probe_ms']:g} ms, wall {d['probe_wall_s']} s):",
        file=stream,
    )
    for i, wave in enumerate(d["waves"], 1):
        ops = Counter(wave)
        print(
            f"  {i:2d}. " + ", ".join(f"{op} x{n}" if n > 1 else op for op, n in ops.items()),
            file=stream,
        )
    print(f"  => {d['chain']} dependent round trips", file=stream)
    for label, key, rw in (
        ("first apply", "first_per_tenant", "first_rw_per_tenant"),
        ("no-op apply", "noop_per_tenant", "noop_rw_per_tenant"),
    ):
        reads, writes = d[rw]
        print(
            f"\n{label}: requests per tenant by operation "
            f"({reads:.2f} reads, {writes:.2f} writes per tenant):",
            file=stream,
        )
        for op, n in d[key].items():
            print(f"  {op:32s} {n}", file=stream)
    if targets:  # the table on stdout shows them otherwise
        print("\ntargets:", file=stream)
        for text, ok in _checks(b):
            print(f"  [{'ok' if ok else 'MISSED'}] {text}", file=stream)


def _print_table(b: BenchFigures) -> None:
    f, p = b.figures, b.params
    rows = [
        ("fleet", f"{p['tenants']} tenants x {p['users']} users x {p['secrets']} secrets"),
        ("latency / concurrency", f"{p['latency_ms']:g} ms / {p['max_concurrency']}"),
        ("machine", f"{p['cpu_count']} CPUs, Python {p['python_version']}"),
        (
            "first apply",
            f"{f['first_apply_s']:.2f} s  ({f['first_reads']} reads, "
            f"{f['first_writes']} writes, client CPU {f['client_cpu_s']:.2f} s)",
        ),
        (
            "sequential (C=1)",
            f"{f['sequential_s']:.2f} s  (speed-up {f['speedup_vs_sequential']:.1f}x)",
        ),
        (
            "no-op re-apply",
            f"{f['noop_apply_s']:.2f} s  ({f['noop_reads']} reads, {f['noop_writes']} writes)",
        ),
        (
            "latency floor",
            f"{f['latency_floor_s']:.2f} s  ({b.details['chain']} round trips "
            f"x {p['latency_ms']:g} ms)",
        ),
        (
            "throughput floor",
            f"{f['throughput_floor_s']:.2f} s  ({b.details['first_requests']} "
            f"requests x {p['latency_ms']:g} ms / {p['max_concurrency']})",
        ),
        ("first apply / floor", f"{f['ratio_to_floor']:.2f}"),
        ("invoke --list", f"{f['list_s']:.3f} s"),
        ("invoke validate", f"{f['validate_s']:.3f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for text, ok in _checks(b):
        print(f"{'ok' if ok else 'MISSED':<{width}}  {text}")


def run_bench(
    tenants: int,
    users: int,
    secrets: int,
    latency_ms: float,
    max_concurrency: int,
    quick: bool,
    as_json: bool,
) -> int:
    """Run the benchmark; print a table (or JSON with `as_json`); return the exit code (0)."""
    if max_concurrency < 0:
        raise UserInputError([Problem(f"--max-concurrency {max_concurrency}: must be >= 0")])
    params = _resolve_params(tenants, users, secrets, latency_ms, quick)
    status = _Status()
    work = Path(tempfile.mkdtemp(prefix="msticpy-provision-bench-"))
    started = time.perf_counter()
    try:
        result = _measure(work, params, max_concurrency, status)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_details(result, status.stream, targets=as_json)
    status(f"bench finished in {time.perf_counter() - started:.1f} s")
    if as_json:
        print(json.dumps(result.document(), indent=2))
    else:
        _print_table(result)
    return 0
