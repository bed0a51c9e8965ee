"""What each task does, as plain functions returning an exit code (tasks.py stays thin)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision.errors import Problem, UserInputError
from provision.fsutil import write_atomic
from provision.inventory import Inventory, load_inventory
from provision.render import TenantRender, render_tenants


@dataclass
class RunOptions:
    """Flags shared by the tasks that talk to Azure."""

    inventory: str
    tenants: list[str] = field(default_factory=list)
    local: bool = False
    endpoints: str | None = None
    as_json: bool = False
    templates: str | None = None
    max_concurrency: int = 0
    lock_timeout: float = 0.0


def prepare(
    inventory: str, tenants: list[str], templates: str | None, check_secrets: bool = False
) -> tuple[Inventory, list[TenantRender]]:
    """Load, render and schema-check: everything that needs no Azure and no secret values.

    With `check_secrets`, also resolve every secret reference and report every missing one.
    """
    inv, renders, _ = _prepare(inventory, tenants, templates, check_secrets)
    return inv, renders


def _prepare(
    inventory: str, tenants: list[str], templates: str | None, check_secrets: bool
) -> tuple[Inventory, list[TenantRender], dict[str, Any]]:
    """prepare(), also returning the resolved secret values when `check_secrets`."""
    inv = load_inventory(inventory)
    renders = render_tenants(inv, tenants, templates)
    problems = schema_problems(inv, renders)
    values: dict[str, Any] = {}
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
    from provision.mpschema import check_msticpyconfig

    out: list[Problem] = []
    for r in renders:
        for p in check_msticpyconfig(r.msticpyconfig):
            out.append(
                Problem(
                    f"tenant {r.tenant.name}: rendered msticpyconfig.yaml: {p}", file=str(inv.path)
                )
            )
    return out


def resolve_secrets(inv: Inventory, renders: list[TenantRender]) -> dict[str, Any]:
    """Resolve the sources of every secret the selected tenants push (values stay wrapped)."""
    from provision.secrets import resolve_sources

    where: dict[str, str] = {}
    for r in renders:
        for p in r.pushes:
            where.setdefault(p.source, f"tenant {r.tenant.name}, {p.setting_path}")
    return resolve_sources(list(where), inv.base_dir, where=where)


def validate_command(
    inventory: str, as_json: bool = False, check_secrets: bool = False, templates: str | None = None
) -> int:
    try:
        inv, renders = prepare(inventory, [], templates, check_secrets=check_secrets)
    except UserInputError as exc:
        if as_json:
            print(json.dumps({"ok": False, "problems": exc.lines()}, indent=2))
            return 1
        raise
    summary = [
        {
            "tenant": r.tenant.name,
            "users": [u.alias for u in r.tenant.user_list],
            "secrets": [{"vault": p.vault, "name": p.name, "source": p.source} for p in r.pushes],
            "files": sorted({n for files in r.user_files.values() for n in files}),
        }
        for r in renders
    ]
    if as_json:
        print(json.dumps({"ok": True, "inventory": str(inv.path), "tenants": summary}, indent=2))
    else:
        secrets = sum(len(t["secrets"]) for t in summary)
        users = sum(len(t["users"]) for t in summary)
        checked = " (secret sources resolved)" if check_secrets else ""
        print(
            f"{inv.path}: ok: {len(summary)} tenants, {users} users, "
            f"{secrets} Key Vault secrets{checked}"
        )
    return 0


def render_command(
    inventory: str, out: str, tenants: list[str], templates: str | None = None
) -> int:
    """Render into OUT/<tenant>/...; everything is rendered and checked before the first write."""
    from rich.console import Console
    from rich.tree import Tree

    _, renders = prepare(inventory, tenants, templates)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError([Problem("output path exists and is not a folder", file=out)])
    writes: list[tuple[Path, bytes]] = []
    tree = Tree(str(out_dir))
    for r in renders:
        branch = tree.add(f"{r.tenant.name}/")
        base = out_dir / r.tenant.name
        for name, f in r.tenant_files.items():
            writes.append((base / name, f.content))
            branch.add(name)
        users = branch.add("users/")
        for alias, files in r.user_files.items():
            ub = users.add(f"{alias}/")
            for name, f in files.items():
                if name in r.tenant_files:
                    continue
                writes.append((base / "users" / alias / name, f.content))
                ub.add(name)
    for path, data in writes:
        write_atomic(path, data)
    Console(file=sys.stdout, highlight=False, soft_wrap=True).print(tree)
    print(f"wrote {len(writes)} files for {len(renders)} tenants")
    return 0


# --- tasks that talk to Azure --------------------------------------------------------------------

LOCAL_DIR_ENV = "MSTICPY_PROVISION_LOCAL_DIR"
DEFAULT_LOCAL_DIR = ".msticpy-provision/local-emulator"


def local_state_dir() -> Path:
    return Path(os.environ.get(LOCAL_DIR_ENV) or DEFAULT_LOCAL_DIR)


@contextlib.contextmanager
def endpoints_for(opts: RunOptions, inv: Inventory) -> Iterator[Any]:
    """The endpoints override for this run: none (real Azure), a file, or a local emulator."""
    from provision.azure import load_endpoints_file

    if opts.local and opts.endpoints:
        raise UserInputError(["--local and --endpoints exclude each other"])
    if opts.endpoints:
        yield load_endpoints_file(opts.endpoints)
        return
    if not opts.local:
        yield None
        return
    from provision.emulator import Emulator
    from provision.emulator.seed import seed_tenants_from_inventory

    state = local_state_dir()
    with Emulator(state_dir=state).start(seed_tenants_from_inventory(inv)) as emu:
        print(f"local Azure emulator: {emu.endpoints['arm']} (state in {state})", file=sys.stderr)
        yield load_endpoints_file(emu.endpoints_file)


EngineRun = Callable[[str, list[TenantRender], dict[str, Any]], list[Any]]


@contextlib.contextmanager
def engine_session(opts: RunOptions, endpoints: Any) -> Iterator[EngineRun]:
    """One credential, one set of clients and one connection pool for every step of a run."""
    from provision.azure import Clients
    from provision.engine import Engine
    from provision.report import Progress

    clients = Clients(opts.max_concurrency, endpoints)
    engine = Engine(clients, lock_timeout=opts.lock_timeout)
    titles = {"plan": "planning", "apply": "applying", "verify": "verifying"}

    def run(mode: str, renders: list[TenantRender], values: dict[str, Any]) -> list[Any]:
        progress = Progress(len(renders), titles[mode])
        engine.progress = progress
        try:
            return engine.run(mode, renders, values)
        finally:
            progress.stop()

    try:
        yield run
    finally:
        engine.close()
        clients.close()


def run_engine(
    mode: str, opts: RunOptions, inv: Inventory, renders: list[TenantRender], endpoints: Any
) -> list[Any]:
    """One step (plan, apply or verify) with its own session and secret resolution."""
    values = resolve_secrets(inv, renders)
    with engine_session(opts, endpoints) as run:
        return run(mode, renders, values)


def _report(mode: str, opts: RunOptions, results: list[Any]) -> None:
    from provision.report import as_document, print_json, print_tables, write_step_summary

    if opts.as_json:
        print_json(as_document(mode, results))
    else:
        print_tables(mode, results)
    write_step_summary(mode, results)


def _run_mode(mode: str, opts: RunOptions) -> list[Any]:
    """prepare -> endpoints -> engine -> report, for plan, apply and verify."""
    inv, renders = prepare(opts.inventory, opts.tenants, opts.templates)
    with endpoints_for(opts, inv) as ep:
        results = run_engine(mode, opts, inv, renders, ep)
    _report(mode, opts, results)
    return results


def plan_command(opts: RunOptions, detailed_exitcode: bool = False) -> int:
    results = _run_mode("plan", opts)
    if any(r.error for r in results):
        return 1
    if detailed_exitcode and any(r.changes for r in results):
        return 2
    return 0


def apply_command(opts: RunOptions) -> int:
    return 1 if any(r.error for r in _run_mode("apply", opts)) else 0


def verify_command(opts: RunOptions) -> int:
    return 1 if any(r.error for r in _run_mode("verify", opts)) else 0


def onboard_command(opts: RunOptions) -> int:
    """validate -> plan -> apply -> verify, against one set of endpoints."""
    from provision.report import (
        as_document,
        print_json,
        print_summary,
        print_tables,
        write_step_summary,
    )

    inv, renders, values = _prepare(opts.inventory, opts.tenants, opts.templates, True)
    if not opts.as_json:
        print(f"validated {inv.path}: {len(renders)} tenants")
    with endpoints_for(opts, inv) as ep, engine_session(opts, ep) as run:
        planned = run("plan", renders, values)
        if not opts.as_json:
            print_tables("plan", planned)
        ok_renders = [r for r, p in zip(renders, planned, strict=True) if p.error is None]
        applied = run("apply", ok_renders, values) if ok_renders else []
        if not opts.as_json:
            print_summary("apply", applied)
        verified = run("verify", ok_renders, values) if ok_renders else []
    failed_plan = [p for p in planned if p.error]
    final = failed_plan + [v if v.error else a for a, v in zip(applied, verified, strict=True)]
    if opts.as_json:
        print_json(
            as_document(
                "apply",
                final,
                {"plan": [p.as_dict() for p in planned], "verify": [v.as_dict() for v in verified]},
            )
        )
    else:
        print_summary("verify", verified)
        _print_where(inv, final, opts)
    write_step_summary("apply", final)
    return 1 if any(r.error for r in final) else 0


def _print_where(inv: Inventory, results: list[Any], opts: RunOptions) -> None:
    by_name = {r.tenant: r for r in results}
    print("\nWhat lives where:")
    for t in inv.select(opts.tenants):
        r = by_name.get(t.name)
        res = r.resources if r is not None else {}
        users = ", ".join(u.alias for u in t.user_list)
        secrets = sum(1 for i in r.items if i.kind == "secret") if r is not None else 0
        print(
            f"  {t.name}: {secrets} secrets in Key Vault {t.key_vault}; "
            f"files in storage account {res.get('storage_account', '?')}, share "
            f"{res.get('file_share', '?')}, under Users/<alias>/ for {users}"
        )
    if opts.local:
        state = local_state_dir()
        print(
            f"\nThe local emulator's state is in {state}. Inspect it with:\n"
            f"  invoke emulator --state-dir {state}     (in another terminal)\n"
            f"  invoke plan -i {opts.inventory} --endpoints {state}/endpoints.json"
        )


def create_compute_command(
    inventory: str, tenant: str, user: str, size: str, local: bool, endpoints: str | None
) -> int:
    from provision.compute import create_compute

    opts = RunOptions(inventory=inventory, tenants=[tenant], local=local, endpoints=endpoints)
    inv, renders = prepare(inventory, [tenant], None)
    with endpoints_for(opts, inv) as ep:
        code: int = create_compute(inv, renders[0], user, size, ep)
    return code
