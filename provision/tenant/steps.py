"""Plan, apply and verify of one tenant.

`apply` first reads trusting what the last apply that wrote had checked (`ReadMode.TRUST`): a
no-op apply reads what it would change and no more, takes no lock and writes nothing. Otherwise
it takes the tenant's lock, reads again under it (`ReadMode.PLAN`, listing the vaults), carries
out the plan as one batch of independent writes, reads back what it wrote, and writes the
record. `verify` reads every byte (`ReadMode.VERIFY`); any difference fails the tenant.
"""

from __future__ import annotations

from provision.access import grant_access, read_back_access
from provision.errors import TenantError
from provision.fanout import Batch, Slot
from provision.plan import Outcome, TenantResult
from provision.sentinel_check import sentinel_record
from provision.tenant import computes, files, orphans, secrets
from provision.tenant.context import ReadMode, TenantRun
from provision.tenant.read import Observation, read_metadata, read_tenant


def plan_tenant(run: TenantRun) -> TenantResult:
    if not run.settings.secret_values:
        return TenantResult(read_metadata(run))
    return TenantResult(read_tenant(run, ReadMode.PLAN).plan)


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
    if not first.plan.changes:
        return TenantResult(first.plan, Outcome(verified=True))
    run.progress("waiting for the tenant lock")
    with first.share.locked(
        holder, run.settings.lock_timeout, break_foreign=run.settings.break_lock
    ):
        obs = read_tenant(run, ReadMode.PLAN, reuse=first)
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
