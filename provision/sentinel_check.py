"""Plan's check that every Sentinel workspace of a tenant is where its rendered files say it is.

msticpy's Sentinel API and `config.json` address the Log Analytics workspace by subscription,
resource group and name, and its query providers by workspace id. If the inventory's coordinates
are wrong, msticpy connects to a workspace that does not exist (or to another one), and notebooks
fail at the analyst's desk. So plan reads each workspace through ARM,
`GET /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.OperationalInsights/workspaces/{n}`
(azure-rest-api-specs, operationalinsights stable/2022-10-01 Workspaces.json), and compares its
`properties.customerId` (the workspace id queries use) with the inventory's `workspace_id`.

The read goes through a client the caller already has: an azure-core `PipelineClient` (its
`send_request`) or the ML management client (its `_send_request`), whose pipeline carries the
credential, retries and the cloud's ARM endpoint. The workspace may live in another subscription
than the ML workspace: the path carries its own subscription.

An apply records the workspaces it found as described in the tenant's record
(`sentinel_record`, provision.tenant.record); a later apply reads only those whose inventory
entry differs from that record. `plan` and `verify` read every workspace, so a workspace
recreated under the same name is still caught, by the daily drift plan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from provision.errors import Problem
from provision.inventory.model import Inventory, SentinelWorkspace, Tenant
from provision.msticpy_contract.settings import workspace_coordinates

LOG_ANALYTICS_API_VERSION = "2022-10-01"
READ_ROLE = "grant Reader (or Log Analytics Reader) on the workspace to the identity running plan"


@dataclass(frozen=True)
class WorkspaceAnswer:
    """What ARM answered for one workspace: the status, its error code, and the customerId."""

    status: int
    code: str = ""
    customer_id: str | None = None


def log_analytics_path(t: Tenant, ws: SentinelWorkspace) -> str:
    subscription, group = workspace_coordinates(t, ws)
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.OperationalInsights/workspaces/{ws.workspace_name}"
    )


def check_sentinel_workspaces(
    client: Any,
    t: Tenant,
    inv: Inventory | None = None,
    only: Collection[SentinelWorkspace] | None = None,
) -> list[Problem]:
    """Read every Sentinel workspace of `t` (or `only` those) and return one problem per
    workspace that is wrong.

    With `inv`, each problem names the inventory line of the workspace entry. Transport errors
    (no connection, no login) are raised as azure-core raises them: they are not a fact about
    the inventory, and the caller reports them like every other failed Azure call.
    """
    problems: list[Problem] = []
    for index, ws in enumerate(t.sentinel):
        if only is not None and ws not in only:
            continue
        answer = read_workspace(client, log_analytics_path(t, ws))
        found = judge_workspace(t, ws, answer)
        if found is None:
            continue
        field, message = found
        loc = ("sentinel", index, field) if field else ("sentinel", index)
        text = f"tenant {t.name}: Sentinel workspace {ws.name}: {message}"
        problems.append(inv.problem_at(t, loc, text) if inv is not None else Problem(text))
    return problems


def sentinel_record(t: Tenant) -> dict[str, str]:
    """What the record keeps once every Sentinel workspace of `t` was found as described:
    each workspace's ARM path -> the customerId it answered (both lower case)."""
    return {log_analytics_path(t, ws).lower(): ws.workspace_id.lower() for ws in t.sentinel}


def read_workspace(client: Any, path: str) -> WorkspaceAnswer:
    """GET the workspace through the client's pipeline (no error handling beyond the answer)."""
    from azure.core.rest import HttpRequest

    url = f"{path}?api-version={LOG_ANALYTICS_API_VERSION}"
    send: Callable[[HttpRequest], Any] | None = getattr(client, "_send_request", None)
    if send is not None:  # a management client: formats the path against its ARM endpoint
        response = send(HttpRequest("GET", url))
    else:  # a PipelineClient: send_request takes the URL as it is
        response = client.send_request(HttpRequest("GET", client.format_url(url)))
    body = _json(response)
    if response.status_code == 200:
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        customer = props.get("customerId") if props else None
        return WorkspaceAnswer(200, customer_id=customer if isinstance(customer, str) else None)
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code") if error else ""
    return WorkspaceAnswer(int(response.status_code), code=code if isinstance(code, str) else "")


def judge_workspace(
    t: Tenant, ws: SentinelWorkspace, answer: WorkspaceAnswer
) -> tuple[str, str] | None:
    """(inventory field to blame, one-line message), or None when the workspace is as described."""
    subscription, group = workspace_coordinates(t, ws)
    where = f"resource group {group!r} of subscription {subscription}"
    if answer.status == 200:
        if answer.customer_id and answer.customer_id.lower() == ws.workspace_id.lower():
            return None
        found = answer.customer_id or "none"
        return (
            "workspace_id",
            f"workspace_id {ws.workspace_id} is not the id of Log Analytics workspace "
            f"{ws.workspace_name!r} in {where} (its customerId is {found})",
        )
    if answer.status == 404:
        if answer.code == "ResourceGroupNotFound":
            return (
                "resource_group",
                f"{where} does not exist; set subscription_id and resource_group to where "
                f"Log Analytics workspace {ws.workspace_name!r} lives",
            )
        if answer.code == "SubscriptionNotFound":
            return ("subscription_id", f"subscription {subscription} not found")
        return (
            "workspace_name",
            f"no Log Analytics workspace {ws.workspace_name!r} in {where}; set "
            "subscription_id and resource_group to where it lives",
        )
    if answer.status == 403:
        return (
            "",
            f"cannot read Log Analytics workspace {ws.workspace_name!r} in {where} "
            f"({answer.code or 'Forbidden'}): {READ_ROLE}",
        )
    if answer.status == 401 and answer.code == "InvalidAuthenticationTokenTenant":
        return (
            "subscription_id",
            f"subscription {subscription} is not in tenant {t.tenant_id} ({answer.code}); "
            "Sentinel workspaces must be reachable with the tenant's login",
        )
    return (
        "",
        f"reading Log Analytics workspace {ws.workspace_name!r} in {where} failed: "
        f"HTTP {answer.status} {answer.code}".rstrip(),
    )


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
