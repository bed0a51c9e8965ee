"""create-compute: a user's compute instance whose startup script is ours.

Azure ML runs `setupScripts.scripts.startupScript` at every boot of a compute instance (as root);
with `scriptSource: workspaceStorage`, `scriptData` is the script's path in the workspace's
notebook share. Setup scripts can only be given when the instance is created, and the 2020-08-01
models of azure-mgmt-machinelearningservices do not know them, so the PUT goes at api-version
2024-04-01 through the ML client's own pipeline (`_send_request`: same credential, retries and
transport), and the long-running operation is followed through its Azure-AsyncOperation URL.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from provision.errors import AzureOperationError, Problem, UserInputError
from provision.inventory.model import Inventory
from provision.render import STARTUP_SCRIPT, TenantRender
from provision.share import WorkspaceShare
from provision.workspace import (
    CODE_SHARE,
    COMPUTE_API_VERSION,
    TenantError,
    discover,
    explain_azure_error,
    workspace_path,
)

STARTUP_TIMEOUT = "15m"
LRO_TIMEOUT_S = 30 * 60.0


def startup_script_path(alias: str) -> str:
    """The script's path in the notebook share, as AML's scriptData expects it."""
    return f"Users/{alias}/{STARTUP_SCRIPT}"


def compute_body(
    location: str, size: str, alias: str, tenant_id: str, object_id: str | None
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "vmSize": size,
        "setupScripts": {
            "scripts": {
                "startupScript": {
                    "scriptSource": "workspaceStorage",
                    "scriptData": startup_script_path(alias),
                    "timeout": STARTUP_TIMEOUT,
                }
            }
        },
    }
    if object_id:
        props["personalComputeInstanceSettings"] = {
            "assignedUser": {"objectId": object_id, "tenantId": tenant_id}
        }
    return {
        "location": location,
        "properties": {"computeType": "ComputeInstance", "properties": props},
    }


def create_compute(inv: Inventory, r: TenantRender, alias: str, size: str, endpoints: Any) -> int:
    """Create `alias`'s compute instance with our startup script; 0 on success."""
    from azure.core.exceptions import AzureError

    from provision.azure import Clients

    t = r.tenant
    user = next((u for u in t.user_list if u.alias == alias), None)
    if user is None:
        known = ", ".join(u.alias for u in t.user_list)
        raise UserInputError(
            [Problem(f"tenant {t.name} has no user {alias!r} (users: {known})", file=str(inv.path))]
        )
    name = user.compute_name
    clients = Clients(0, endpoints)
    try:
        try:
            ws = discover(clients, t)
        except TenantError as exc:
            raise AzureOperationError(f"{t.name}: {exc}") from None
        existing = ws.computes.get(name)
        if existing is not None:
            if existing.startup_script == startup_script_path(alias):
                print(f"{t.name}: compute instance {name} already exists with our startup script")
                return 0
            raise AzureOperationError(
                f"{t.name}: compute instance {name} already exists "
                f"(startup script: {existing.startup_script or 'none'}); setup scripts can only "
                "be set when an instance is created: delete it or name another with compute:"
            )
        share = WorkspaceShare(clients.share(t, ws.storage_account, CODE_SHARE, ws.storage_key))
        if share.download(startup_script_path(alias)) is None:
            raise AzureOperationError(
                f"{t.name}: {startup_script_path(alias)} is not in the workspace share; "
                f"run `invoke apply -i {inv.path} -t {t.name}` first"
            )
        body = compute_body(ws.location or "eastus", size, alias, t.tenant_id, user.object_id)
        try:
            state = _put_and_wait(clients, t, name, body)
        except AzureError as exc:
            raise AzureOperationError(
                explain_azure_error(
                    exc,
                    t,
                    f"compute instance {name}",
                    "creating computes needs Contributor or AzureML Compute Operator "
                    "on the workspace",
                )
            ) from None
        if state != "Succeeded":
            raise AzureOperationError(f"{t.name}: creating compute instance {name} ended {state}")
        print(
            f"{t.name}: compute instance {name} created for {alias}; it runs "
            f"{startup_script_path(alias)} at every boot"
        )
        return 0
    finally:
        clients.close()


def _put_and_wait(clients: Any, t: Any, name: str, body: dict[str, Any]) -> str:
    from azure.core.rest import HttpRequest

    ml = clients.ml(t)
    url = f"{workspace_path(t)}/computes/{name}?api-version={COMPUTE_API_VERSION}"
    resp = ml._send_request(HttpRequest("PUT", url, json=body))
    resp.raise_for_status()
    status_url = resp.headers.get("Azure-AsyncOperation")
    if not status_url:
        return str(resp.json().get("properties", {}).get("provisioningState", "Succeeded"))
    started = time.monotonic()
    state = "InProgress"
    while state in {"InProgress", "Creating", "Accepted", "Running"}:
        wait = float(resp.headers.get("Retry-After") or 5)
        elapsed = time.monotonic() - started
        print(f"  {t.name}: creating {name}: {state} ({elapsed:.0f}s)", file=sys.stderr, flush=True)
        if elapsed > LRO_TIMEOUT_S:
            return "TimedOut"
        time.sleep(min(wait, 30.0))
        resp = ml._send_request(HttpRequest("GET", status_url))
        resp.raise_for_status()
        state = str(resp.json().get("status", "Failed"))
    return state
