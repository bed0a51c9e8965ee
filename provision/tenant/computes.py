"""Compute instances: each analyst's instance reported and compared with the user's compute
policy, and an offboarded tenant's instances found, reported, and deleted on request.

Against the policy, apply changes only what Azure lets it change on an existing instance the
inventory names for a user: the idle shutdown (updateIdleShutdownSetting). Every other
difference (VM size, schedules, identity: only a re-creation; SSO: only the analyst) is a
report item, never acted on: apply never re-creates an analyst's instance. A pinned kernel's
status, read from the user's share folder, is a report only (every workspace user can write it).

Which instances are the tool's, and how one is deleted, is provision.offboard's; how an
instance's startup script and policy are judged is provision.compute's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from provision.compute import (
    FIX_UPDATE,
    KERNEL_STATUS,
    compute_report,
    difference_text,
    kernel_status_text,
    policy_differences,
    update_idle_shutdown,
)
from provision.fanout import Batch
from provision.offboard import compute_items, delete_compute, tool_computes
from provision.plan import Action, Change, Kind
from provision.share import USERS, FileTooLarge, WorkspaceShare
from provision.tenant.context import TenantRun
from provision.tenant.record import Record
from provision.workspace import WorkspaceInfo

KERNEL_STATUS_LIMIT = 16 * 1024  # the startup script writes a few hundred bytes


@dataclass(frozen=True)
class ComputesPlan:
    reports: tuple[Change, ...] = ()  # each analyst's instance (tenants still present)
    offboarded: tuple[Change, ...] = ()  # an offboarded tenant's instances
    deletes: tuple[str, ...] = ()  # to delete (--delete-computes)
    idle_updates: tuple[tuple[str, str], ...] = ()  # (instance, idle time) to set


def plan(
    run: TenantRun, ws: WorkspaceInfo, record: Record, share: WorkspaceShare | None = None
) -> ComputesPlan:
    t = run.tenant
    if not t.absent:
        items: list[Change] = []
        updates: list[tuple[str, str]] = []
        for user in t.user_list:
            name = user.compute_name
            found = ws.computes.get(name)
            items.append(
                Change(
                    Kind.COMPUTE,
                    name,
                    Action.REPORT,
                    compute_report(found, user, run.desired.render),
                )
            )
            if found is None:
                continue
            policy = t.policy_for(user)
            for diff in policy_differences(found, policy):
                fix = diff["fix"] == FIX_UPDATE
                items.append(
                    Change(
                        Kind.COMPUTE,
                        f"{name}/{diff['field']}",
                        Action.UPDATE if fix else Action.REPORT,
                        difference_text(diff),
                        policy=diff,
                    )
                )
                if fix:
                    updates.append((name, diff["desired"]))
            if policy.kernel is not None and share is not None:
                items.append(
                    Change(
                        Kind.COMPUTE,
                        f"{name}/kernel",
                        Action.REPORT,
                        _kernel_status(share, user.alias, policy.kernel.requirement),
                    )
                )
        return ComputesPlan(reports=tuple(items), idle_updates=tuple(updates))
    delete = run.settings.lifecycle.delete_computes
    tools = tool_computes(t, ws, record.aliases())
    return ComputesPlan(
        offboarded=tuple(compute_items(tools, delete)),
        deletes=tuple(sorted(tools)) if delete else (),
    )


def _kernel_status(share: WorkspaceShare, alias: str, requirement: str) -> str:
    """The pinned kernel's status the instance left on the share (a small file, read bounded)."""
    from azure.core.exceptions import AzureError

    try:
        raw = share.download(f"{USERS}/{alias}/{KERNEL_STATUS}", limit=KERNEL_STATUS_LIMIT)
    except (FileTooLarge, AzureError):
        return f"pinned kernel {requirement}: status file unreadable"
    return kernel_status_text(raw[0] if raw else None, requirement)


def add_updates(run: TenantRun, planned: ComputesPlan, batch: Batch) -> int:
    """Set the policy's idle shutdown on each instance that differs; return how many."""
    for name, value in planned.idle_updates:
        batch.add(
            functools.partial(
                update_idle_shutdown, run.clients.ml(run.tenant), run.tenant, name, value
            )
        )
    return len(planned.idle_updates)


def add_deletes(run: TenantRun, planned: ComputesPlan, batch: Batch) -> int:
    """Delete the offboarded tenant's instances (--delete-computes); return how many."""
    for name in planned.deletes:
        batch.add(functools.partial(delete_compute, run.clients.ml(run.tenant), run.tenant, name))
    return len(planned.deletes)
