"""`rotate`: push a changed secret source to every tenant and vault that references it.

REF matches a reference exactly as the inventory writes it, after `defaults` are merged
(`file:secrets/vt.txt`, `env:VT_KEY`); the tenants that use it are listed first. Each tenant runs
as apply's do (bounded concurrency, provision.engine; one tenant's failure never stops the
others): its secrets of that source are read and compared; when one differs the tenant's lock is
taken, they are read again under it, written (a new version, dated afresh by the inventory's
expiry: provision.vault) and read back. A second run with the same value finds nothing to do and
writes nothing. Nothing printed holds a value: items carry vault/name targets and the source.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provision import report
from provision.commands.common import endpoints_for, engine_session, prepare
from provision.errors import Problem, UserInputError, did_you_mean
from provision.options import RunOptions
from provision.plan import Outcome, TenantPlan, TenantResult

if TYPE_CHECKING:
    from provision.msticpy_contract.secret_names import SecretPush
    from provision.plan import Change
    from provision.render import TenantRender
    from provision.tenant.context import TenantRun

SCHEMA_VERSION = 1  # of the JSON document `rotate --json` prints (docs/secrets-lifecycle.md)


@dataclass(frozen=True)
class Use:
    """One tenant's secrets that take their value from the source."""

    render: TenantRender
    pushes: tuple[SecretPush, ...]

    @property
    def tenant(self) -> str:
        return self.render.tenant.name

    @property
    def targets(self) -> list[str]:
        return [f"{p.vault}/{p.name}" for p in self.pushes]


def uses_of(renders: Sequence[TenantRender], source: str) -> list[Use]:
    """Every present tenant whose pushed secrets reference `source`, in inventory order."""
    out = []
    for r in renders:
        pushes = tuple(p for p in r.pushes if p.source == source)
        if pushes and not r.tenant.absent:
            out.append(Use(r, pushes))
    return out


def run(opts: RunOptions, source: str) -> int:
    """0: every tenant holds the source's value (rotated and verified, or already); 1: a
    tenant failed (the others still ran)."""
    from provision.secrets import resolve_sources

    inv, renders = prepare(opts.inventory, list(opts.tenant), opts.templates)
    uses = uses_of(renders, source)
    if not uses:
        known = sorted({p.source for r in renders for p in r.pushes})
        raise UserInputError(
            [
                Problem(
                    f"--source {source!r}: no secret of the selected tenants references it"
                    f"{did_you_mean(source, known)}",
                    file=str(inv.path),
                )
            ]
        )
    where = {source: f"tenant {uses[0].tenant}, {uses[0].pushes[0].setting_path}"}
    values = resolve_sources([source], inv.base_dir, where=where)
    out = sys.stderr if opts.json else sys.stdout
    tenants = report.tenants(len(uses))
    print(f"{source} is used by {tenants}:", file=out)
    for use in uses:
        print(f"  {use.tenant}: {', '.join(use.targets)}", file=out, flush=True)
    step = functools.partial(rotate_tenant, source=source)
    with endpoints_for(opts, inv) as ep, engine_session(opts, ep, inv) as engine:
        results = engine("rotate", [u.render for u in uses], values, step=step)
    _report(opts, source, results)
    return 1 if any(r.error for r in results) else 0


def rotate_tenant(run: TenantRun, holder: str, *, source: str) -> TenantResult:
    """Bring the tenant's secrets of `source` to its value: read, then (only when one differs)
    lock, read again, write and read back."""
    from provision.tenant.read import share_of
    from provision.vault import READ_BACK_DIFFERS
    from provision.workspace import discover

    t = run.tenant
    pushes = [p for p in run.desired.render.pushes if p.source == source]
    found = _read(run, pushes)
    resources = {"key_vault": t.key_vault}
    if not any(c.is_change for c in found):
        return TenantResult(TenantPlan(t.name, tuple(found), resources=resources), Outcome())
    run.progress("waiting for the tenant lock")
    share = share_of(run, discover(run.clients, t, run.fan.pool, run.settings.storage_auth))
    with share.locked(holder, run.settings.lock_timeout, break_foreign=run.settings.break_lock):
        found = _read(run, pushes)  # again: another run may have rotated them meanwhile
        todo = [(p, c) for p, c in zip(pushes, found, strict=True) if c.is_change]
        run.progress(f"rotating {len(todo)} secrets")
        run.fan.run_all(functools.partial(_write, run, p, c) for p, c in todo)
        run.progress("verifying")
        checked = run.fan.run_all(functools.partial(_matches, run, p) for p, _ in todo)
    mismatches = {
        c.target: READ_BACK_DIFFERS for (_, c), ok in zip(todo, checked, strict=True) if not ok
    }
    error = None
    if mismatches:
        error = "read-back after rotate does not match: " + "; ".join(mismatches)
    return TenantResult(
        TenantPlan(t.name, tuple(found), resources=resources),
        Outcome(applied=len(todo), verified=not mismatches, mismatches=mismatches, error=error),
    )


def _read(run: TenantRun, pushes: list[SecretPush]) -> list[Change]:
    from provision.vault import plan_secret

    reads = run.fan.run_all(
        functools.partial(plan_secret, run.clients.secrets(run.tenant, p.vault), run.desired, p)
        for p in pushes
    )
    return [r.change for r in reads]


def _write(run: TenantRun, p: SecretPush, c: Change) -> None:
    from provision.vault import write_secret

    write_secret(run.clients.secrets(run.tenant, p.vault), run.desired, p, c.reason)


def _matches(run: TenantRun, p: SecretPush) -> bool:
    from provision.vault import read_back_matches

    return read_back_matches(run.clients.secrets(run.tenant, p.vault), run.desired, p)


def tenant_status(r: TenantResult) -> str:
    """One tenant's outcome in a word: failed, rotated or unchanged."""
    if r.error:
        return "failed"
    return "rotated" if r.applied else "unchanged"


def as_document(source: str, results: list[TenantResult]) -> dict[str, Any]:
    """`rotate --json` (docs/secrets-lifecycle.md#rotate)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "mode": "rotate",
        "source": source,
        "ok": not any(r.error for r in results),
        "tenants": [
            {
                "tenant": r.tenant,
                "status": tenant_status(r),
                "error": r.error,
                "rotated": r.applied,
                "verified": r.verified,
                "secrets": [
                    {"target": i.target, "action": str(i.action), "detail": i.detail}
                    for i in r.items
                ],
            }
            for r in results
        ],
    }


def _report(opts: RunOptions, source: str, results: list[TenantResult]) -> None:
    """A line per tenant and the total (plain text: an error may hold '[...]'), or JSON."""
    from provision.report import print_json

    if opts.json:
        print_json(as_document(source, results))
        return
    for r in results:
        if r.error:
            print(f"  {r.tenant}: FAILED: {r.error}")
            continue
        what = ", ".join(f"{i.target} ({i.detail})" if i.detail else i.target for i in r.items)
        verified = ", verified" if r.verified else ""
        print(f"  {r.tenant}: {tenant_status(r)}{verified}: {what}")
    counts = {s: sum(tenant_status(r) == s for r in results) for s in ("rotated", "unchanged")}
    failed = len(results) - counts["rotated"] - counts["unchanged"]
    nothing = "; nothing to do" if not failed and not counts["rotated"] else ""
    print(
        f"Rotate {source}: {counts['rotated']} rotated, {counts['unchanged']} unchanged, "
        f"{failed} failed across {len(results)} tenants{nothing}"
    )
