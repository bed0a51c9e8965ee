"""Compute instances of an offboarded tenant (`state: absent`): found, reported, deleted on request.

An instance is the tool's when create-compute made it for one of the tenant's aliases: its
startup script is our inline launcher pinned for that alias (or, for older instances, our startup
script on the share). An instance that merely has a user's compute name is not taken for ours.
The aliases are those the inventory still lists and those whose folders the tenant's manifest
names.

Apply deletes them only with `--delete-computes`: an ARM DELETE on
`.../workspaces/{ws}/computes/{name}?api-version=2024-04-01&underlyingResourceAction=Delete`
(azure-rest-api-specs, machinelearningservices stable/2024-04-01, Compute_Delete: 200 or 202 with
`Azure-AsyncOperation`/`Location`), waited for like create-compute's PUT.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from provision.compute import launcher_pin, startup_script_path
from provision.plan import Action, Change, Kind
from provision.share import USERS
from provision.workspace import COMPUTE_API_VERSION, WorkspaceInfo, workspace_path

if TYPE_CHECKING:
    from provision.inventory.model import Tenant

LRO_TIMEOUT_S = 30 * 60.0
_RUNNING = {"InProgress", "Deleting", "Accepted", "Running"}


def manifest_aliases(manifest: dict[str, dict[str, str]]) -> set[str]:
    """The aliases whose folders hold (or held) files the tool wrote for the tenant."""
    return {p.split("/")[1] for p in manifest if p.startswith(f"{USERS}/") and p.count("/") >= 2}


def tool_computes(t: Tenant, ws: WorkspaceInfo, aliases: set[str]) -> dict[str, str]:
    """Compute name -> alias, for every instance create-compute made for one of `aliases`."""
    found: dict[str, str] = {}
    folded = {a.casefold(): a for a in aliases | {u.alias for u in t.user_list}}
    for name, c in ws.computes.items():
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

    url = (
        f"{workspace_path(t)}/computes/{name}?api-version={COMPUTE_API_VERSION}"
        "&underlyingResourceAction=Delete"
    )
    resp = ml._send_request(HttpRequest("DELETE", url))
    if resp.status_code in {204, 404}:
        return
    resp.raise_for_status()
    status_url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
    if resp.status_code != 202 or not status_url:
        return
    started = time.monotonic()
    state = "InProgress"
    while state in _RUNNING:
        if time.monotonic() - started > LRO_TIMEOUT_S:
            raise TimeoutError(f"deleting compute {name}: still {state} after 30 minutes")
        time.sleep(min(float(resp.headers.get("Retry-After") or 5), 30.0))
        resp = ml._send_request(HttpRequest("GET", status_url))
        if resp.status_code == 404:
            return
        resp.raise_for_status()
        if resp.status_code == 202:  # a Location URL answers 202 until the operation ends
            continue
        state = str((resp.json() or {}).get("status", "Succeeded")) if resp.content else "Done"
    if state not in {"Succeeded", "Done"}:
        raise RuntimeError(f"deleting compute {name}: {state}")
