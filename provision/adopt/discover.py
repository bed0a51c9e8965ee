"""`discover`: read a tenant's estate from Azure, read only: its Azure ML workspace (storage,
vault, notebook share), compute instances and their assigned users, the user folders on the
share and each analyst's msticpyconfig.yaml, and the Log Analytics workspaces with Microsoft
Sentinel enabled.

Every call is a read (GET, and the SDK's list calls); the share is read with an Entra ID token
(never listKeys), so Reader on the subscriptions plus Storage File Data Privileged Reader on the
workspace's storage account is all it needs. Reads run in bounded, parallel batches
(`provision.fanout`): the subscriptions' lists at once, then the workspace's computes, share and
Log Analytics onboarding states, then the analysts' configs.

Sentinel is enabled on a Log Analytics workspace when it has the SecurityInsights onboarding
state `default` (Microsoft.SecurityInsights `onboardingStates`, the API the portal and the
`az sentinel onboarding-state` commands use to enable Sentinel; the older
`SecurityInsights(<workspace>)` OperationsManagement solution is how it was enabled before and
is not read here). A workspace whose states cannot be read is reported, not assumed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from provision.errors import TenantError, UserInputError
from provision.fanout import Fanout
from provision.inventory.model import Tenant
from provision.render import MSTICPYCONFIG
from provision.share import USERS, FileTooLarge, WorkspaceShare
from provision.workspace import StorageAuth, WorkspaceInfo, discover, explain_azure_error
from provision.yamlsource import MAX_BYTES

if TYPE_CHECKING:
    from provision.azure import Clients

R = TypeVar("R")
LAW_API_VERSION = "2022-10-01"  # Microsoft.OperationalInsights workspaces (Workspaces.json)
SENTINEL_API_VERSION = "2024-09-01"  # Microsoft.SecurityInsights onboardingStates
READER_HINT = "grant Reader on the subscription"
SHARE_HINT = "grant Storage File Data Privileged Reader on the workspace's storage account"


@dataclass(frozen=True)
class FoundWorkspace:
    subscription_id: str
    resource_group: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} (subscription {self.subscription_id}, group {self.resource_group})"


@dataclass(frozen=True)
class LogAnalytics:
    subscription_id: str
    resource_group: str
    name: str
    customer_id: str


@dataclass
class Estate:
    """What discovery read of one tenant."""

    workspace: FoundWorkspace
    info: WorkspaceInfo
    folders: list[str]  # Users/<alias> folder names
    configs: dict[str, str]  # alias -> msticpyconfig.yaml text (folders that have one)
    sentinel: list[LogAnalytics]  # Sentinel-enabled Log Analytics workspaces
    notes: list[str] = field(default_factory=list)  # what could not be read, one line each


def probe_tenant(
    name: str, tenant_id: str, subscription_id: str, resource_group: str = "-", workspace: str = "-"
) -> Tenant:
    """A tenant with only the coordinates the clients and Azure error explanations use."""
    return Tenant.model_construct(
        name=name,
        tenant_id=tenant_id,
        auth_tenant_id=None,
        subscription_id=subscription_id,
        resource_group=resource_group,
        ml_workspace=workspace,
        key_vault="-",
        key_vault_tenant_id=None,
        cloud="global",
    )


def read_estate(
    clients: Clients,
    name: str,
    tenant_id: str,
    subscriptions: list[str],
    *,
    resource_group: str | None = None,
    ml_workspace: str | None = None,
    width: int = 8,
) -> Estate:
    """Read the tenant's estate; a subscription, workspace or share it cannot read is one line
    (UserInputError for what the flags got wrong, TenantError for what Azure refused)."""
    with ThreadPoolExecutor(max_workers=width) as pool:
        fan = Fanout(pool, width)
        listed = fan.map(
            lambda sub: _caught(
                functools.partial(_workspaces, clients, name, tenant_id, sub, resource_group)
            ),
            subscriptions,
        )
        found: list[FoundWorkspace] = []
        for sub, got in zip(subscriptions, listed, strict=True):
            if isinstance(got, Exception):
                t = probe_tenant(name, tenant_id, sub, resource_group or "-")
                where = f"Azure ML workspaces of subscription {sub}"
                raise TenantError(explain_azure_error(got, t, where, READER_HINT))
            found.extend(got)
        ws = _choose(found, ml_workspace, subscriptions)
        t = probe_tenant(name, tenant_id, ws.subscription_id, ws.resource_group, ws.name)
        info_job = fan.submit(lambda: discover(clients, t, None, StorageAuth.TOKEN))
        laws = fan.map(
            lambda sub: _caught(functools.partial(_log_analytics, clients, t, sub)),
            subscriptions,
        )
        info = info_job.result()
        share = WorkspaceShare(
            clients.share(t, info.storage_account, info.file_share, None), tenant=name
        )
        notes: list[str] = []
        candidates: list[LogAnalytics] = []
        for sub, law_list in zip(subscriptions, laws, strict=True):
            if isinstance(law_list, Exception):
                where = f"Log Analytics workspaces of subscription {sub}"
                notes.append(explain_azure_error(law_list, t, where, READER_HINT))
            else:
                candidates.extend(law_list)
        folders_job = fan.submit(functools.partial(_caught, functools.partial(_folders, share)))
        states = fan.map(
            lambda law: _caught(functools.partial(_sentinel_enabled, clients, t, law)),
            candidates,
        )
        sentinel = []
        for law, state in zip(candidates, states, strict=True):
            if isinstance(state, Exception):
                where = f"Sentinel onboarding state of Log Analytics workspace {law.name}"
                notes.append(explain_azure_error(state, t, where, READER_HINT))
            elif state:
                sentinel.append(law)
        folders = folders_job.result()
        if isinstance(folders, Exception):
            where = f"folder {USERS}/ on the share of {info.storage_account}"
            raise TenantError(explain_azure_error(folders, t, where, SHARE_HINT))
        texts = fan.map(lambda alias: _caught(functools.partial(_config, share, alias)), folders)
    configs: dict[str, str] = {}
    for alias, text in zip(folders, texts, strict=True):
        if isinstance(text, Exception):
            where = f"{USERS}/{alias}/{MSTICPYCONFIG}"
            if isinstance(text, FileTooLarge | TenantError):
                notes.append(f"{where}: {text}")
            else:
                notes.append(explain_azure_error(text, t, where, SHARE_HINT))
        elif text is not None:
            configs[alias] = text
    return Estate(ws, info, folders, configs, sentinel, notes + list(info.notes))


def _caught(job: Callable[[], R]) -> R | Exception:
    """The job's answer, or the Azure (or share) error it raised: collected, reported by the
    tenant's thread, never half a traceback from a pool thread."""
    from azure.core.exceptions import AzureError

    try:
        return job()
    except (AzureError, TenantError) as exc:
        return exc


def _workspaces(
    clients: Clients, name: str, tenant_id: str, sub: str, resource_group: str | None
) -> list[FoundWorkspace]:
    ml = clients.ml(probe_tenant(name, tenant_id, sub))
    pages = (
        ml.workspaces.list_by_resource_group(resource_group)
        if resource_group
        else ml.workspaces.list_by_subscription()
    )
    out = []
    for ws in pages:
        group = _segment(str(ws.id), "resourceGroups")
        out.append(FoundWorkspace(sub, group or resource_group or "", str(ws.name)))
    return out


def _segment(arm_id: str, key: str) -> str | None:
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if key.lower() in lowered:
        at = lowered.index(key.lower())
        return parts[at + 1] if at + 1 < len(parts) else None
    return None


def _choose(
    found: list[FoundWorkspace], wanted: str | None, subscriptions: list[str]
) -> FoundWorkspace:
    if wanted:
        found = [w for w in found if w.name.casefold() == wanted.casefold()]
    if len(found) == 1:
        return found[0]
    where = ", ".join(subscriptions)
    if not found:
        named = f" named {wanted!r}" if wanted else ""
        raise UserInputError([f"no Azure ML workspace{named} in subscription(s) {where}"])
    listed = "; ".join(str(w) for w in found)
    how = "--resource-group or one --subscription-id" if wanted else "--ml-workspace"
    raise UserInputError([f"{len(found)} Azure ML workspaces found, pick one with {how}: {listed}"])


def _get_json(clients: Clients, t: Tenant, url: str) -> list[dict[str, Any]]:
    """Every item of an ARM list, following nextLink, through the ML client's pipeline (the
    tenant's credential, retries and in-flight bound)."""
    from azure.core.rest import HttpRequest

    ml = clients.ml(t)
    items: list[dict[str, Any]] = []
    while url:
        resp = ml._send_request(HttpRequest("GET", url))
        resp.raise_for_status()
        body = resp.json()
        items.extend(i for i in body.get("value") or [] if isinstance(i, dict))
        url = body.get("nextLink") or ""
    return items


def _log_analytics(clients: Clients, t: Tenant, sub: str) -> list[LogAnalytics]:
    url = (
        f"/subscriptions/{sub}/providers/Microsoft.OperationalInsights/workspaces"
        f"?api-version={LAW_API_VERSION}"
    )
    out = []
    for item in _get_json(clients, t, url):
        customer = (item.get("properties") or {}).get("customerId")
        group = _segment(str(item.get("id", "")), "resourceGroups")
        if customer and group:
            out.append(LogAnalytics(sub, group, str(item.get("name")), str(customer)))
    return out


def _sentinel_enabled(clients: Clients, t: Tenant, law: LogAnalytics) -> bool:
    url = (
        f"/subscriptions/{law.subscription_id}/resourceGroups/{law.resource_group}/providers/"
        f"Microsoft.OperationalInsights/workspaces/{law.name}/providers/"
        f"Microsoft.SecurityInsights/onboardingStates?api-version={SENTINEL_API_VERSION}"
    )
    return any(str(s.get("name", "")).casefold() == "default" for s in _get_json(clients, t, url))


def _folders(share: WorkspaceShare) -> list[str]:
    """The folders directly under Users/ (none when there is no Users/ yet)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        items = share.share.get_directory_client(USERS).list_directories_and_files()
        return sorted(str(i["name"]) for i in items if i.get("is_directory"))
    except ResourceNotFoundError:
        return []


def _config(share: WorkspaceShare, alias: str) -> str | None:
    got = share.download(f"{USERS}/{alias}/{MSTICPYCONFIG}", limit=MAX_BYTES)
    if got is None:
        return None
    try:
        return got[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TenantError(f"not UTF-8 text (byte {exc.start})") from None
