"""Plan, apply and verify of one tenant.

`apply` first reads trusting what the last apply that wrote had checked (`ReadMode.TRUST`): a
no-op apply reads what it would change and no more, takes no lock and writes nothing. Otherwise
it takes the tenant's lock, reads again under it (`ReadMode.PLAN`, listing the vaults), carries
out the plan as one batch of independent writes, reads back what it wrote, and writes the
record. With a plan to keep to (`RunSettings.expected`: a saved plan, or the one an interactive
apply showed), the locked read must have that plan's seal (provision.saved_plan), or the tenant
is refused. `verify` reads every byte (`ReadMode.VERIFY`); any difference fails the tenant.
"""

from __future__ import annotations

from dataclasses import replace

from provision.access import grant_access, read_back_access
from provision.errors import TenantError
from provision.fanout import Batch, Slot
from provision.plan import Outcome, TenantResult
from provision.saved_plan import seal_of, stale_parts
from provision.sentinel_check import sentinel_record
from provision.tenant import computes, files, orphans, secrets
from provision.tenant.context import ReadMode, TenantRun
from provision.tenant.read import Observation, read_metadata, read_tenant


def plan_tenant(run: TenantRun) -> TenantResult:
    if not run.settings.secret_values:
        return TenantResult(read_metadata(run))
    obs = read_tenant(run, ReadMode.PLAN)
    if run.settings.seal_key is None:
        return TenantResult(obs.plan)
    return TenantResult(replace(obs.plan, seal=seal_of(run, obs)))


def _check_expected(run: TenantRun, obs: Observation) -> None:
    """With a plan to keep to (saved, or shown and confirmed), refuse the tenant unless this read
    has the plan's seal: then apply makes exactly the plan's changes."""
    expected = run.settings.expected
    if expected is None:
        return
    name = run.tenant.name
    if name not in expected:
        raise TenantError(f"not applied: tenant {name} is not in the plan; plan again")
    stale = stale_parts(expected[name], seal_of(run, obs))
    if stale:
        raise TenantError(
            f"not applied: changed since the plan was made: {', '.join(stale)}; plan again"
        )


def verify_tenant(run: TenantRun) -> TenantResult:
    """Read back everything (nothing taken from the record); any difference is a failure."""
    plan = read_tenant(run, ReadMode.VERIFY).plan
    differ = len(plan.changes)
    return TenantResult(
        plan,
        Outcome(
            verified=not differ,
            error=f"{differ} items differ from the inventory" if differ else None,
        ),
    )


def apply_tenant(run: TenantRun, holder: str) -> TenantResult:
    first = read_tenant(run, ReadMode.TRUST)
    if not first.plan.changes and run.settings.expected is None:
        return TenantResult(first.plan, Outcome(verified=True))
    run.progress("waiting for the tenant lock")
    with first.share.locked(
        holder, run.settings.lock_timeout, break_foreign=run.settings.break_lock
    ):
        obs = read_tenant(run, ReadMode.PLAN, reuse=first)
        _check_expected(run, obs)
        if not obs.plan.changes:
            return TenantResult(obs.plan, Outcome(verified=True))
        refused = obs.policy.error()
        if refused:  # nothing is written that Azure Policy would refuse part-way
            raise TenantError(f"not applied: {refused}")
        run.progress(f"applying {len(obs.plan.changes)} changes")
        applied, written = _apply(run, obs)
        run.progress("verifying")
        mismatches, etags = _read_back(run, obs, written)
        _record(run, obs, mismatches, etags)
    error = None
    if mismatches:
        error = "read-back after apply does not match: " + "; ".join(
            f"{target} ({why})" for target, why in mismatches.items()
        )
    return TenantResult(
        obs.plan,
        Outcome(applied=applied, verified=not mismatches, mismatches=mismatches, error=error),
    )


def _apply(run: TenantRun, obs: Observation) -> tuple[int, dict[str, Slot[str | None]]]:
    """Every write of the plan in one batch (they are independent), then the analysts' grants;
    return how many writes and each written file's confirmed ETag."""
    files.make_folders(obs.share, obs.files)
    batch = Batch()
    secrets.add_writes(run, obs.secrets, batch)
    written = files.add_writes(run, obs.share, obs.files, batch)
    orphans.add_deletes(run, obs.share, obs.orphans, batch)
    computes.add_deletes(run, obs.computes, batch)
    computes.add_updates(run, obs.computes, batch)
    run.fan.run(batch)
    granted = grant_access(run.clients, run.fan, run.tenant, obs.access)
    return len(batch) + granted, written


def _read_back(
    run: TenantRun, obs: Observation, written: dict[str, Slot[str | None]]
) -> tuple[dict[str, str], dict[str, str]]:
    """(target -> mismatch, path -> ETag now on the share) for what apply wrote."""
    batch = Batch()
    secret_checks = secrets.add_read_backs(run, obs.secrets, batch)
    downloads = files.add_read_backs(obs.share, written, batch)
    run.fan.run(batch)
    mismatches = secrets.mismatches(obs.secrets, secret_checks)
    file_mismatches, etags = files.read_back(run, written, downloads)
    mismatches.update(file_mismatches)
    mismatches.update(
        read_back_access(run.clients, run.fan, run.desired, obs.ws.key_vault_id, obs.access)
    )
    return mismatches, etags


def _record(
    run: TenantRun, obs: Observation, mismatches: dict[str, str], etags: dict[str, str]
) -> None:
    """Record every rendered file as it now stands on the share, what was pruned, the tagged
    secrets and the Sentinel workspaces found (provision.tenant.record)."""
    d = run.desired
    changed = set(obs.files.to_write)
    standing = {
        path: etags.get(path) if path in changed else obs.files.remote_etags.get(path)
        for path in d.files
        if path not in mismatches
    }
    manifest = obs.record.after_apply(
        {p: (etag, d.files[p].content) for p, etag in standing.items() if etag},
        forget=obs.orphans.forget,
        secrets=obs.orphans.tagged_after_apply(d),
        sentinel=sentinel_record(run.tenant),
    )
    obs.record.write(
        obs.share,
        run.clients.secrets(run.tenant, run.tenant.key_vault),
        manifest,
        expiry=run.tenant.secret_expiry,
    )
