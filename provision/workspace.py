"""Azure ML workspace discovery: storage account and key, associated vault, notebook share,
compute instances.

Uses azure-mgmt-machinelearningservices (api-version 2020-08-01) for the workspace and its keys.
Compute instances are listed at api-version 2025-12-01 through the client's own pipeline
(`_send_request`), because the 2020-08-01 models do not carry `setupScripts` (is the instance's
startup script ours?), nor the idle shutdown, schedules and SSO flag the plan compares with the
compute policy (the first stable version whose ComputeInstanceProperties carry
`idleTimeBeforeShutdown` and `enableSSO`; 2024-04-01 and 2024-10-01 have only `schedules`).
The notebook share's name is the `fileShareName` of the workspace's `workspaceworkingdirectory`
datastore (AzureFile; shape in azure-rest-api-specs machinelearningservices 2024-04-01,
Datastore examples), read the same way; when that datastore cannot be read, the well-known name
is used and the plan says so.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from provision.errors import TenantError, describe_exception
from provision.inventory.model import Tenant

if TYPE_CHECKING:
    from provision.azure import Clients

log = logging.getLogger(__name__)

CODE_SHARE = "code-391ff5ac-6576-460f-ba4d-7e03433c68b6"  # AML's notebook share (DESIGN.md)
WORKING_DATASTORE = "workspaceworkingdirectory"
COMPUTE_API_VERSION = "2024-04-01"
# Why discovery chose token access where the account refuses Shared Key (create-compute refuses
# to create an instance there: Azure needs key access for it).
SHARED_KEY_OFF = "the storage account does not allow Shared Key (allowSharedKeyAccess: false)"
# Compute instances: read, created and changed at this version (see the module docstring).
COMPUTE_INSTANCE_API_VERSION = "2025-12-01"
# Microsoft.Storage/storageAccounts GET: `properties.allowSharedKeyAccess` (absent means allowed).
STORAGE_API_VERSION = "2023-05-01"
SHARE_SCRIPT_SOURCES = frozenset({"workspaceStorage", "workspace"})
# listKeys is a POST that only reads: azure-core retries POST on 500/503/504 answers but not after
# a dropped connection, so name the methods it may retry for that one call.
RETRYABLE_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST"})


class StorageAuth(str, Enum):
    """How the tool signs its requests to the workspace's file share (`--storage-auth`)."""

    AUTO = "auto"  # a token where Shared Key is not allowed or listKeys is denied, else the key
    KEY = "key"  # the storage account key from the workspace's listKeys
    # An Entra ID token; never calls listKeys, so the plan identity can be read-only.
    TOKEN = "token"  # noqa: S105 (a mode, not a secret)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ComputeInfo:
    name: str
    state: str | None
    assigned_object_id: str | None
    startup_script: str | None  # share path, when scriptSource is workspaceStorage or workspace
    raw_script_source: str | None = None
    script_data: str | None = None  # scriptData as Azure returns it (base64 for inline)
    tags: tuple[tuple[str, str], ...] = ()
    vm_size: str | None = None
    idle_time_before_shutdown: str | None = None
    # schedules.computeStartStop as (action, triggerType, cron expression, time zone, status)
    schedules: tuple[tuple[str, str, str, str, str], ...] = ()
    enable_sso: bool | None = None
    identity_type: str | None = None

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class WorkspaceInfo:
    workspace_id: str
    location: str
    storage_account: str
    storage_key: str | None  # None: the share is accessed with an Entra ID token
    key_vault: str | None  # name of the workspace's associated vault
    computes: dict[str, ComputeInfo] = field(default_factory=dict)
    storage_auth_reason: str = ""

    @property
    def storage_auth(self) -> str:
        """How the share is accessed, with the reason, for plans and reports."""
        how = "Shared Key (storage account key)" if self.storage_key else "Entra ID token"
        return f"{how}: {self.storage_auth_reason}" if self.storage_auth_reason else how

    file_share: str = CODE_SHARE  # the notebook share (workspaceworkingdirectory datastore)
    notes: tuple[str, ...] = ()  # what discovery assumed, for the plan's notes
    key_vault_id: str | None = None  # ARM id of the workspace's associated vault


def _last_segment(arm_id: str | None) -> str | None:
    return arm_id.rstrip("/").split("/")[-1] if arm_id else None


def workspace_path(t: Tenant) -> str:
    return (
        f"/subscriptions/{t.subscription_id}/resourceGroups/{t.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{t.ml_workspace}"
    )


def explain_azure_error(exc: Exception, t: Tenant, resource: str, role_hint: str) -> str:
    """One line: what failed, on what, and the role that is probably missing."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    from provision.policy.errors import ambiguous_hint, policy_refusal

    # ARM and Key Vault errors carry `error.code`; the storage SDK puts it in `error_code`.
    code = str(
        getattr(getattr(exc, "error", None), "code", None) or getattr(exc, "error_code", "") or ""
    )
    status = getattr(exc, "status_code", None)
    known = _explain_code(code, t, resource) or _explain_vault_tenant(exc, t, resource)
    if known:
        return known
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        if code == "ResourceGroupNotFound":
            return (
                f"resource group {t.resource_group!r} not found in subscription {t.subscription_id}"
            )
        return f"{resource} not found ({code or 'ResourceNotFound'})"
    if isinstance(exc, ClientAuthenticationError) and status != 403:
        field = "auth_tenant_id" if t.auth_tenant_id else "tenant_id"
        return (
            f"authentication failed for {resource}: sign in (az login --tenant "
            f"{t.auth_tenant_id or t.tenant_id}, managed identity or azure/login OIDC) to tenant "
            f"{t.name}'s Entra tenant ({field} {t.auth_tenant_id or t.tenant_id})"
        )
    refused = policy_refusal(exc, resource)
    if refused:
        return refused
    if status == 403 or code == "AuthorizationFailed":
        why = f"{code or 'Forbidden'}{ambiguous_hint(exc)}"
        return f"permission denied on {resource} ({why}): {role_hint}"
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        detail = " ".join(str(exc).split())[:160]
        return f"cannot reach Azure for {resource}: {type(exc).__name__}: {detail}"
    if isinstance(exc, HttpResponseError):
        return f"{resource}: HTTP {status} {code}".rstrip()
    return f"{resource}: {describe_exception(exc)}"


_CHALLENGE_TENANT = re.compile(r'authorization="?https://[^/"]+/([0-9a-fA-F-]{36})', re.I)
_AADSTS = re.compile(r"AADSTS\d+")


def _explain_vault_tenant(exc: Exception, t: Tenant, resource: str) -> str | None:
    """A vault in another Entra tenant, in one line naming both tenants: Key Vault's 401
    challenge names the vault's tenant (AKV10032 for a token of another tenant), and a sign-in
    refused in the declared `key_vault_tenant_id` names it in the AADSTS message."""
    from azure.core.exceptions import ClientAuthenticationError

    from provision.azure import vault_tenant

    if not isinstance(exc, ClientAuthenticationError):
        return None
    asked = vault_tenant(t)
    home = t.auth_tenant_id or t.tenant_id
    response = getattr(exc, "response", None)
    header = str(getattr(response, "headers", {}).get("WWW-Authenticate", "")) if response else ""
    found = _CHALLENGE_TENANT.search(header)
    if found and found.group(1).lower() != asked.lower():
        return (
            f"{resource}: the vault is in Entra tenant {found.group(1)}, not {asked} where tenant "
            f"{t.name} signs in (AKV10032): set key_vault_tenant_id: {found.group(1)} in the "
            "inventory"
        )
    text = str(exc)
    if t.key_vault_tenant_id and asked.lower() != home.lower() and asked.lower() in text.lower():
        why = _AADSTS.search(text)
        return (
            f"{resource}: cannot sign in to Entra tenant {asked}, the vault's "
            f"(key_vault_tenant_id), with the identity tenant {t.name} signs in to {home} "
            f"({why.group(0) if why else 'sign-in refused'}): give that identity access in "
            f"{asked} (a guest account or a multi-tenant application) or correct "
            "key_vault_tenant_id"
        )
    return None


def _explain_code(code: str, t: Tenant, resource: str) -> str | None:
    """Azure error codes whose cause is known well enough to say what to do."""
    if code == "KeyBasedAuthenticationNotPermitted":
        return (
            f"{resource}: the storage account does not allow Shared Key access "
            "(allowSharedKeyAccess: false, e.g. by the Azure Policy 'Storage accounts should "
            "prevent shared key access'): use --storage-auth token (or auto) and grant Storage "
            "File Data Privileged Contributor (Reader for plan)"
        )
    if code == "AuthorizationPermissionMismatch":
        return (
            f"{resource}: the token's identity may not do this on the file share "
            f"({code}): grant Storage File Data Privileged Contributor for apply "
            "(Storage File Data Privileged Reader is enough for plan and verify)"
        )
    if code == "InvalidAuthenticationTokenTenant":
        return (
            f"{resource}: the token is from another Entra tenant ({code}): sign in to tenant "
            f"{t.auth_tenant_id or t.tenant_id}, or set auth_tenant_id to the managing tenant "
            "for Lighthouse-delegated subscriptions"
        )
    if code == "AuthenticationFailed":
        return (
            f"{resource}: the storage key was refused ({code}). After a storage key rotation "
            "Azure ML serves the old key for up to an hour: run `az ml workspace sync-keys "
            f"-w {t.ml_workspace} -g {t.resource_group}`, or use --storage-auth token"
        )
    return None


def discover(
    clients: Clients,
    t: Tenant,
    pool: Executor | None = None,
    storage_auth: StorageAuth = StorageAuth.AUTO,
) -> WorkspaceInfo:
    """Find the workspace's storage (and how to sign in to it) and vault, and its computes.

    With a `pool`, the compute list (and, with `--storage-auth key`, the keys) are read while
    the workspace is. `auto` first reads the storage account's `allowSharedKeyAccess` and calls
    listKeys only where Shared Key is allowed; `token` never calls listKeys.
    """
    from azure.core.exceptions import AzureError

    ml = clients.ml(t)
    resource = f"ML workspace {t.ml_workspace!r} (resource group {t.resource_group})"
    keys_job: Future[Any] | None = None
    computes_job: Future[dict[str, ComputeInfo]] | None = None
    share_job: Future[WorkingShare] | None = None
    if pool is not None:
        share_job = pool.submit(_working_share, ml, t)
        if storage_auth == StorageAuth.KEY:
            keys_job = pool.submit(_list_keys, ml, t)
        computes_job = pool.submit(_list_computes, ml, t)
    try:
        ws = ml.workspaces.get(t.resource_group, t.ml_workspace)
    except AzureError as exc:
        raise TenantError(
            explain_azure_error(
                exc,
                t,
                resource,
                "grant the Reader (or AzureML Data Scientist) role on the workspace",
            )
        ) from None
    account = _last_segment(ws.storage_account)
    if not account:
        raise TenantError(f"{resource} has no storage account")
    key, reason = _storage_key(
        ml, t, resource, str(ws.storage_account), storage_auth=storage_auth, keys_job=keys_job
    )
    try:
        computes = computes_job.result() if computes_job is not None else _list_computes(ml, t)
    except AzureError as exc:
        raise TenantError(
            explain_azure_error(exc, t, f"computes of {resource}", "grant Reader on the workspace")
        ) from None
    try:
        working = share_job.result() if share_job is not None else _working_share(ml, t)
    except AzureError as exc:
        raise TenantError(
            explain_azure_error(
                exc, t, f"datastore {WORKING_DATASTORE} of {resource}", "grant Reader"
            )
        ) from None
    if working.account and working.account.lower() != account.lower():
        raise TenantError(
            f"datastore {WORKING_DATASTORE} of {resource} is in storage account "
            f"{working.account!r}, not the workspace's {account!r}; this setup is not supported"
        )
    return WorkspaceInfo(
        workspace_id=str(getattr(ws, "workspace_id", "") or ""),
        location=str(getattr(ws, "location", "") or ""),
        storage_account=account,
        storage_key=key,
        key_vault=_last_segment(ws.key_vault),
        computes=computes,
        storage_auth_reason=reason,
        file_share=working.share,
        notes=(working.note,) if working.note else (),
        key_vault_id=str(ws.key_vault) if ws.key_vault else None,
    )


def _list_keys(ml: Any, t: Tenant) -> Any:
    return ml.workspaces.list_keys(
        t.resource_group, t.ml_workspace, retry_on_methods=RETRYABLE_METHODS
    )


def _storage_key(
    ml: Any,
    t: Tenant,
    resource: str,
    account_id: str,
    *,
    storage_auth: StorageAuth,
    keys_job: Future[Any] | None,
) -> tuple[str | None, str]:
    """The account key (or None for token access) and why that access was chosen."""
    from azure.core.exceptions import AzureError

    if storage_auth == StorageAuth.TOKEN:
        return None, _token_access(t, "--storage-auth token")
    if storage_auth == StorageAuth.AUTO and shared_key_allowed(ml, account_id) is False:
        return None, _token_access(t, SHARED_KEY_OFF)
    try:
        keys = keys_job.result() if keys_job is not None else _list_keys(ml, t)
    except AzureError as exc:
        if storage_auth == StorageAuth.AUTO and getattr(exc, "status_code", None) == 403:
            return None, _token_access(t, "listKeys was denied to this identity")
        raise TenantError(
            explain_azure_error(
                exc,
                t,
                f"keys of {resource}",
                "listKeys needs workspaces/listKeys/action: Contributor or a custom role "
                "on the workspace (AzureML Data Scientist excludes it); or use "
                "--storage-auth token",
            )
        ) from None
    key = getattr(keys, "user_storage_key", None)
    if not key:
        raise TenantError(f"{resource} returned no storage key")
    return str(key), "--storage-auth key" if storage_auth == StorageAuth.KEY else ""


def _token_access(t: Tenant, reason: str) -> str:
    """`reason`, when the file share can be reached with a token; refused in one line for a
    Lighthouse-delegated tenant (`auth_tenant_id`), where it cannot.

    Azure Storage accepts tokens only from the Entra tenant of the subscription that holds the
    account, and Azure Lighthouse delegates no role with DataActions (Storage File Data
    Privileged Contributor is one) and no custom role (Microsoft Learn, "Tenants, users, and
    roles in Azure Lighthouse scenarios"): a managing tenant's token can never read the share.
    """
    if not t.auth_tenant_id or t.auth_tenant_id.lower() == t.tenant_id.lower():
        return reason
    raise TenantError(
        f"token access to the file share cannot work through Lighthouse ({reason}; auth_tenant_id "
        f"{t.auth_tenant_id}): Azure Storage takes tokens only from the account's own Entra "
        f"tenant {t.tenant_id} and Lighthouse delegates no role with DataActions; use the key "
        "path: a delegated built-in role with Microsoft.MachineLearningServices/workspaces/"
        "listKeys/action (Contributor) on a storage account that allows Shared Key (the custom "
        "workspace role cannot be delegated: Lighthouse does not support custom roles)"
    )


def shared_key_allowed(ml: Any, account_id: str) -> bool | None:
    """The storage account's `allowSharedKeyAccess` (absent means allowed); None if unreadable.

    Microsoft.Storage/storageAccounts GET (REST 2023-05-01): `properties.allowSharedKeyAccess`
    "Indicates whether the storage account permits requests to be authorized with the account
    access key via Shared Key. If false, then all requests, including shared access signatures,
    must be authorized with Azure Active Directory (Azure AD). The default value is null, which
    is equivalent to true."
    """
    from azure.core.exceptions import AzureError
    from azure.core.rest import HttpRequest

    try:
        resp = ml._send_request(
            HttpRequest("GET", f"{account_id}?api-version={STORAGE_API_VERSION}")
        )
        resp.raise_for_status()
        allowed = (resp.json().get("properties") or {}).get("allowSharedKeyAccess")
    except (AzureError, ValueError) as exc:
        log.debug("cannot read %s: %s", account_id, exc)
        return None
    return allowed is not False


@dataclass(frozen=True)
class WorkingShare:
    """The workspaceworkingdirectory datastore as far as the tool needs it."""

    share: str
    account: str | None = None
    note: str | None = None  # set when the well-known share name had to be assumed


def _working_share(ml: Any, t: Tenant) -> WorkingShare:
    """The notebook share's name from the workspaceworkingdirectory datastore."""
    from azure.core.rest import HttpRequest

    url = f"{workspace_path(t)}/datastores/{WORKING_DATASTORE}?api-version={COMPUTE_API_VERSION}"
    resp = ml._send_request(HttpRequest("GET", url))
    if resp.status_code in (403, 404):
        why = (
            "cannot be read (needs workspaces/datastores/read)"
            if resp.status_code == 403
            else "does not exist"
        )
        return WorkingShare(
            CODE_SHARE, note=f"datastore {WORKING_DATASTORE} {why}; using the share {CODE_SHARE}"
        )
    resp.raise_for_status()
    props = resp.json().get("properties") or {}
    share = props.get("fileShareName")
    if props.get("datastoreType") != "AzureFile" or not isinstance(share, str) or not share:
        return WorkingShare(
            CODE_SHARE,
            note=f"datastore {WORKING_DATASTORE} is not an Azure Files datastore; using the "
            f"share {CODE_SHARE}",
        )
    account = props.get("accountName")
    return WorkingShare(share, account if isinstance(account, str) and account else None)


def _list_computes(ml: Any, t: Tenant) -> dict[str, ComputeInfo]:
    from azure.core.rest import HttpRequest

    computes: dict[str, ComputeInfo] = {}
    url = f"{workspace_path(t)}/computes?api-version={COMPUTE_INSTANCE_API_VERSION}"
    while url:
        resp = ml._send_request(HttpRequest("GET", url))
        resp.raise_for_status()
        body = resp.json()
        for item in body.get("value", []):
            info = _compute_info(item)
            if info is not None:
                computes[info.name] = info
        url = body.get("nextLink") or ""
    return computes


def _compute_info(item: dict[str, Any]) -> ComputeInfo | None:
    props = item.get("properties") or {}
    if props.get("computeType") != "ComputeInstance":
        return None
    inner = props.get("properties") or {}
    assigned = (inner.get("personalComputeInstanceSettings") or {}).get("assignedUser") or {}
    startup = ((inner.get("setupScripts") or {}).get("scripts") or {}).get("startupScript") or {}
    source = startup.get("scriptSource")
    return ComputeInfo(
        name=str(item.get("name")),
        state=inner.get("state"),
        assigned_object_id=assigned.get("objectId"),
        # the docs' ARM example says workspaceStorage, the REST spec (2024-04-01) workspace
        startup_script=startup.get("scriptData") if source in SHARE_SCRIPT_SOURCES else None,
        raw_script_source=source,
        script_data=startup.get("scriptData"),
        tags=tuple(sorted((str(k), str(v)) for k, v in (item.get("tags") or {}).items())),
        vm_size=inner.get("vmSize"),
        idle_time_before_shutdown=inner.get("idleTimeBeforeShutdown"),
        schedules=tuple(
            _schedule(s) for s in (inner.get("schedules") or {}).get("computeStartStop") or []
        ),
        enable_sso=inner.get("enableSSO"),
        identity_type=(item.get("identity") or {}).get("type"),
    )


def _schedule(s: dict[str, Any]) -> tuple[str, str, str, str, str]:
    cron = s.get("cron") or {}
    return (
        str(s.get("action") or ""),
        str(s.get("triggerType") or ""),
        str(cron.get("expression") or ""),
        str(cron.get("timeZone") or "UTC"),
        str(s.get("status") or "Enabled"),
    )
