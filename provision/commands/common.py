"""What the commands share: loading and checking the inventory, the endpoints (real Azure, a
file, or the local emulator), one engine session per run, and reporting. The run's flags are
`provision.options.RunOptions`, checked when they were built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from provision.errors import Problem, UserInputError
from provision.inventory.load import load_inventory
from provision.inventory.model import Inventory
from provision.options import RunOptions
from provision.render import TenantRender, render_tenants

if TYPE_CHECKING:
    from provision.azure import Endpoints
    from provision.engine import Step
    from provision.plan import TenantResult
    from provision.saved_plan import SealKey
    from provision.secrets import SecretValue


def prepare(
    inventory: str, tenants: list[str], templates: str | None, check_secrets: bool = False
) -> tuple[Inventory, list[TenantRender]]:
    """Load, render and schema-check: everything that needs no Azure and no secret values.

    With `check_secrets`, also resolve every secret reference and report every missing one.
    """
    inv, renders, _ = prepare_with_values(inventory, tenants, templates, check_secrets)
    return inv, renders


def prepare_with_values(
    inventory: str, tenants: list[str], templates: str | None, check_secrets: bool
) -> tuple[Inventory, list[TenantRender], dict[str, SecretValue]]:
    """prepare(), also returning the resolved secret values when `check_secrets`."""
    inv = load_inventory(inventory)
    renders = render_tenants(inv, tenants, templates)
    problems = schema_problems(inv, renders)
    values: dict[str, SecretValue] = {}
    if check_secrets:
        try:
            values = resolve_secrets(inv, renders)
        except UserInputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise UserInputError(problems)
    return inv, renders, values


def schema_problems(inv: Inventory, renders: list[TenantRender]) -> list[Problem]:
    """Check each rendered msticpyconfig against msticpy's setting schema."""
    from provision.msticpy_contract.schema import check_msticpyconfig

    out: list[Problem] = []
    for r in renders:
        if r.tenant.absent:
            continue
        for p in check_msticpyconfig(r.msticpyconfig):
            out.append(
                Problem(
                    f"tenant {r.tenant.name}: rendered msticpyconfig.yaml: {p}", file=str(inv.path)
                )
            )
    return out


def resolve_secrets(inv: Inventory, renders: list[TenantRender]) -> dict[str, SecretValue]:
    """Resolve the sources of every secret the selected tenants push (values stay wrapped); each
    missing one is a problem at the inventory line that names it."""
    from provision.secrets import resolve_sources

    where: dict[str, str] = {}
    for r in renders:
        for p in r.pushes:
            where.setdefault(p.source, f"tenant {r.tenant.name}, {p.setting_path}")
    lines = reference_lines(inv)
    values: dict[str, SecretValue] = {}
    problems: list[Problem] = []
    for ref, used in where.items():
        try:
            values.update(resolve_sources([ref], inv.base_dir, where={ref: used}))
        except UserInputError as exc:
            problems += [
                Problem(p.message, file=str(inv.path), line=lines.get(ref)) for p in exc.problems
            ]
    if problems:
        raise UserInputError(problems)
    return values


_REFERENCE = re.compile(r"\b(?:env|file):[^\s\"',}\]#]+")


def reference_lines(inv: Inventory) -> dict[str, int]:
    """The first line of the inventory file naming each `env:`/`file:` reference."""
    from provision.yamlsource import read_text_bounded

    try:
        text = read_text_bounded(inv.path, "inventory")
    except (OSError, UserInputError):
        return {}
    out: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for m in _REFERENCE.finditer(line):
            out.setdefault(m.group(0), number)
    return out


def secret_file_warnings(inv: Inventory, renders: list[TenantRender]) -> list[Problem]:
    """What plain validate can say about `file:` sources without reading a value: each file that
    is missing (plan and apply would stop), and, per folder, the files every user of the machine
    can read."""
    lines = reference_lines(inv)
    out: list[Problem] = []
    readable: dict[Path, list[str]] = {}
    refs = dict.fromkeys(
        p.source for r in renders for p in r.pushes if p.source.startswith("file:")
    )
    for ref in refs:
        path = inv.base_dir / ref[5:]
        try:
            mode = path.stat().st_mode
        except OSError:
            out.append(
                Problem(
                    f"{ref}: secret file {path} does not exist; plan and apply will stop "
                    "(validate --check-secrets resolves every source)",
                    file=str(inv.path),
                    line=lines.get(ref),
                )
            )
            continue
        if stat.S_ISREG(mode) and mode & stat.S_IROTH:
            readable.setdefault(path.parent, []).append(ref)
    for folder, found in readable.items():
        files = "1 secret file" if len(found) == 1 else f"{len(found)} secret files"
        out.append(
            Problem(
                f"{files} in {folder} readable by every user of this machine "
                f"(chmod 600 them), e.g. {found[0]}",
                file=str(inv.path),
                line=lines.get(found[0]),
            )
        )
    return out


# --- tasks that talk to Azure --------------------------------------------------------------------

LOCAL_DIR_ENV = "MSTICPY_PROVISION_LOCAL_DIR"
DEFAULT_LOCAL_DIR = ".msticpy-provision/local-emulator"


def local_state_dir(inventory: str | Path | None = None) -> Path:
    """The local emulator's state: `$MSTICPY_PROVISION_LOCAL_DIR` when set, else one folder per
    inventory under `.msticpy-provision/local-emulator/`, keyed by the inventory's absolute path
    (`inventory-1a2b3c4d5e6f`), so two inventories never share a world."""
    explicit = os.environ.get(LOCAL_DIR_ENV)
    if explicit:
        return Path(explicit)
    root = Path(DEFAULT_LOCAL_DIR)
    if inventory is None:
        return root
    path = Path(inventory).resolve()
    key = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    return root / f"{path.stem}-{key}"


def start_over(state: Path) -> None:
    """--fresh: forget the local world and its request log (the emulator's CA is kept)."""
    from provision.emulator.server import REQUESTS_NAME
    from provision.emulator.state import SNAPSHOT_NAME

    for name in (SNAPSHOT_NAME, REQUESTS_NAME):
        (state / name).unlink(missing_ok=True)


LOCAL_IS = (
    "--local: a throwaway Azure made from {inventory} itself, so it cannot catch a wrong tenant, "
    "subscription, workspace or vault name; it shows what the tool does, not that Azure agrees"
)


@contextlib.contextmanager
def endpoints_for(opts: RunOptions, inv: Inventory) -> Iterator[Endpoints | None]:
    """The endpoints override for this run: none (real Azure), a file, or a local emulator."""
    from provision.azure import load_endpoints_file

    if opts.endpoints:
        yield load_endpoints_file(opts.endpoints)
        return
    if not opts.local:
        yield None
        return
    from provision.emulator import Emulator
    from provision.emulator.seed import seed_tenants_from_inventory

    state = local_state_dir(inv.path)
    if opts.fresh:
        start_over(state)
    print(LOCAL_IS.format(inventory=inv.path), file=sys.stderr)
    # Seeded before it listens: endpoints.json appears only once the world is there.
    with Emulator(state_dir=state).start(seed_tenants_from_inventory(inv)) as emu:
        print(
            f"local Azure emulator: {emu.endpoints['arm']} (state in {state}; --fresh starts over)",
            file=sys.stderr,
        )
        yield load_endpoints_file(emu.endpoints_file)


class EngineRun(Protocol):
    """One step (plan, apply or verify) of a run's engine session."""

    def __call__(
        self,
        mode: str,
        renders: list[TenantRender],
        values: dict[str, SecretValue],
        keep_clients: bool = False,
        step: Step | None = None,
        expected: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[TenantResult]: ...


@contextlib.contextmanager
def engine_session(
    opts: RunOptions,
    endpoints: Endpoints | None,
    inv: Inventory | None = None,
    seal_key: SealKey | None = None,
) -> Iterator[EngineRun]:
    """One credential, one set of clients and one connection pool for every step of a run.

    With `seal_key`, plans are sealed, and a step given `expected` seals applies only tenants
    whose world is still that of their plan (provision.saved_plan)."""
    from provision.access import AccessOptions
    from provision.azure import Clients
    from provision.engine import Engine
    from provision.report import Progress
    from provision.tenant.context import Lifecycle, RunSettings
    from provision.workspace import StorageAuth

    signin = opts.sign_in()
    tenants = inv.select(list(opts.tenant)) if inv is not None else []
    problems = signin.problems(tenants, os.environ, endpoints)
    if problems:
        raise UserInputError(problems)
    clients = Clients(opts.max_concurrency, endpoints, signin.for_tenants(tenants))
    settings = RunSettings(
        storage_auth=StorageAuth(opts.storage_auth),
        inventory=inv,
        access=AccessOptions(grant=opts.grant_access, require=opts.require_access),
        lifecycle=Lifecycle(
            prune=opts.prune,
            prune_max=opts.prune_max,
            delete_computes=opts.delete_computes,
            allow_permanent_delete=opts.allow_permanent_delete,
        ),
        lock_timeout=opts.lock_timeout,
        break_lock=opts.break_lock,
        secret_values=not opts.no_secret_values,
        warn_expiry_days=opts.warn_expiry,
        seal_key=seal_key,
    )
    engine = Engine(clients, settings)
    titles = {"plan": "planning", "apply": "applying", "verify": "verifying", "rotate": "rotating"}

    def run(
        mode: str,
        renders: list[TenantRender],
        values: dict[str, SecretValue],
        keep_clients: bool = False,
        step: Step | None = None,
        expected: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[TenantResult]:
        engine.settings = dataclasses.replace(settings, expected=expected)
        progress = Progress(len(renders), titles[mode])
        engine.progress = progress
        try:
            return engine.run(mode, renders, values, keep_clients, step)
        finally:
            progress.stop()

    try:
        yield run
    finally:
        engine.close()
        clients.close()


def run_engine(
    mode: str,
    opts: RunOptions,
    inv: Inventory,
    renders: list[TenantRender],
    endpoints: Endpoints | None,
) -> list[TenantResult]:
    """One step (plan, apply or verify) with its own session and secret resolution."""
    # plan --no-secret-values needs no secret source at all (a pull request's plan)
    values = {} if opts.no_secret_values else resolve_secrets(inv, renders)
    with engine_session(opts, endpoints, inv) as run:
        return run(mode, renders, values)


def report_results(
    mode: str,
    opts: RunOptions,
    results: list[TenantResult],
    renders: list[TenantRender] | None = None,
) -> None:
    from provision.readiness import assess_all
    from provision.report import as_document, print_json, print_tables, write_step_summary

    # verify reads what is there; apply's items are its plan, done once it succeeds
    ready = assess_all(renders or [], results, opts.inventory, applied=mode == "apply")
    if opts.json:
        print_json(as_document(mode, results, readiness=ready))
    else:
        print_tables(mode, results, readiness=ready)
    write_step_summary(mode, results)


def run_mode(mode: str, opts: RunOptions) -> list[TenantResult]:
    """prepare -> endpoints -> engine -> report, for plan, apply and verify."""
    inv, renders = prepare(opts.inventory, list(opts.tenant), opts.templates)
    with endpoints_for(opts, inv) as ep:
        results = run_engine(mode, opts, inv, renders, ep)
    report_results(mode, opts, results, renders)
    return results
