"""Compute instances: each analyst's instance reported (the tool never changes one it did not
create), and an offboarded tenant's instances found, reported, and deleted on request.

Which instances are the tool's, and how one is deleted, is provision.offboard's; how an
instance's startup script is judged is provision.compute's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from provision.compute import compute_report
from provision.fanout import Batch
from provision.offboard import compute_items, delete_compute, tool_computes
from provision.plan import Action, Change, Kind
from provision.tenant.context import TenantRun
from provision.tenant.record import Record
from provision.workspace import WorkspaceInfo


@dataclass(frozen=True)
class ComputesPlan:
    reports: tuple[Change, ...] = ()  # each analyst's instance (tenants still present)
    offboarded: tuple[Change, ...] = ()  # an offboarded tenant's instances
    deletes: tuple[str, ...] = ()  # to delete (--delete-computes)


def plan(run: TenantRun, ws: WorkspaceInfo, record: Record) -> ComputesPlan:
    t = run.tenant
    if not t.absent:
        return ComputesPlan(
            reports=tuple(
                Change(
                    Kind.COMPUTE,
                    user.compute_name,
                    Action.REPORT,
                    compute_report(ws.computes.get(user.compute_name), user, run.desired.render),
                )
                for user in t.user_list
            )
        )
    delete = run.settings.lifecycle.delete_computes
    found = tool_computes(t, ws, record.aliases())
    return ComputesPlan(
        offboarded=tuple(compute_items(found, delete)),
        deletes=tuple(sorted(found)) if delete else (),
    )


def add_deletes(run: TenantRun, planned: ComputesPlan, batch: Batch) -> int:
    """Delete the offboarded tenant's instances (--delete-computes); return how many."""
    for name in planned.deletes:
        batch.add(functools.partial(delete_compute, run.clients.ml(run.tenant), run.tenant, name))
    return len(planned.deletes)
