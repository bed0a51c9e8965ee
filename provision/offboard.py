"""Compute instances of an offboarded tenant (`state: absent`): found, reported, deleted on request.

An instance is the tool's when create-compute made it for one of the tenant's aliases: its tags
(`managed-by: msticpy-provision`, `tenant`, `alias`, written at creation) say so; an instance
tagged for another tenant is never this one's. Instances made before they were tagged are
recognised by their startup script: our inline launcher pinned for the alias (or our startup
script on the share). An instance that merely has a user's compute name is not taken for ours.
The aliases are those the inventory still lists and those whose folders the tenant's record
names; the record is trusted only with its digest in Key Vault (provision.tenant.record), so a
record forged on the share adds no alias.

Apply deletes them only with `--delete-computes`: an ARM DELETE on
`.../workspaces/{ws}/computes/{name}?api-version=2024-04-01&underlyingResourceAction=Delete`
(azure-rest-api-specs, machinelearningservices stable/2024-04-01, Compute_Delete: 200 or 202 with
`Azure-AsyncOperation`/`Location`), waited for like create-compute's PUT (provision.lro).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provision.compute import launcher_pin, startup_script_path
from provision.plan import Action, Change, Kind
from provision.vault import MANAGED_BY
from provision.workspace import COMPUTE_API_VERSION, WorkspaceInfo, workspace_path

if TYPE_CHECKING:
    from provision.inventory.model import Tenant


def tool_computes(t: Tenant, ws: WorkspaceInfo, aliases: set[str]) -> dict[str, str]:
    """Compute name -> alias, for every instance create-compute made for one of `aliases`.

    First by the tags create-compute puts on it (`managed-by: msticpy-provision`, this tenant,
    the alias): ARM returns tags on every read. Then, for instances made before they were tagged,
    by the launcher's inline script data (only where ARM returns it verbatim) or the share path
    of our startup script.
    """
    found: dict[str, str] = {}
    folded = {a.casefold(): a for a in aliases | {u.alias for u in t.user_list}}
    for name, c in ws.computes.items():
        tags = c.tag_map
        if tags.get("managed-by") == MANAGED_BY:
            # Tagged by create-compute: the tags alone decide. An instance tagged for another
            # tenant (tenants sharing a workspace) is never this one's, whatever its script.
            alias = folded.get(tags.get("alias", "").casefold())
            if tags.get("tenant") == t.name and alias is not None:
                found[name] = alias
            continue
        pin = launcher_pin(c.script_data) if c.raw_script_source == "inline" else None
        if pin is not None and pin[0].casefold() in folded:
            found[name] = folded[pin[0].casefold()]
            continue
        for alias in folded.values():
            if c.startup_script == startup_script_path(alias):
                found[name] = alias
    return found


def compute_items(found: dict[str, str], delete: bool) -> list[Change]:
    """Plan items for an offboarded tenant's instances: deleted or only reported."""
    if delete:
        return [
            Change(
                Kind.COMPUTE,
                name,
                Action.DELETE,
                f"tenant offboarded (state: absent): instance of {alias} (--delete-computes)",
            )
            for name, alias in sorted(found.items())
        ]
    return [
        Change(
            Kind.COMPUTE,
            name,
            Action.REPORT,
            f"tenant offboarded (state: absent): instance of {alias} created by "
            "msticpy-provision is kept (pass --delete-computes to delete it)",
        )
        for name, alias in sorted(found.items())
    ]


def delete_compute(ml: Any, t: Tenant, name: str) -> None:
    """Delete one compute instance and wait for the operation (a missing one is fine)."""
    from azure.core.rest import HttpRequest

    from provision.lro import arm_sender, wait_for_operation

    url = (
        f"{workspace_path(t)}/computes/{name}?api-version={COMPUTE_API_VERSION}"
        "&underlyingResourceAction=Delete"
    )
    resp = ml._send_request(HttpRequest("DELETE", url))
    if resp.status_code in {204, 404}:
        return
    wait_for_operation(arm_sender(ml), resp, f"deleting compute {name}")
