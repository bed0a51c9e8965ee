"""Who may do what in a vault: the tenant check on tokens and the data-plane authorization.

A vault's ARM resource (``Microsoft.KeyVault/vaults/{name}``) says how it authorizes:
``properties.enableRbacAuthorization`` true -> role assignments at the vault or above must grant
the operation's data action (Azure RBAC guide for Key Vault: ``secrets/getSecret/action``,
``secrets/readMetadata/action``, ...); false -> an entry of ``properties.accessPolicies`` for the
caller's object id must hold the operation's secret permission (get, list, set, ...). The
operator token passes both. A vault that ARM does not know (created straight in the backend)
checks nothing beyond the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provision.emulator.identity.models import Principal
from provision.emulator.keyvault.exceptions import Forbidden

if TYPE_CHECKING:
    from provision.emulator.arm.models import NamedResource
    from provision.emulator.state import Backend

__all__ = ["OPERATION_RIGHTS", "check_access"]

_SECRETS = "Microsoft.KeyVault/vaults/secrets"

# operation -> (RBAC data action, access-policy secret permission)
OPERATION_RIGHTS: dict[str, tuple[str, str]] = {
    "GetSecret": (f"{_SECRETS}/getSecret/action", "get"),
    "GetSecrets": (f"{_SECRETS}/readMetadata/action", "list"),
    "GetSecretVersions": (f"{_SECRETS}/readMetadata/action", "list"),
    "SetSecret": (f"{_SECRETS}/setSecret/action", "set"),
    "UpdateSecret": (f"{_SECRETS}/update/action", "set"),
    "DeleteSecret": (f"{_SECRETS}/delete", "delete"),
    "GetDeletedSecrets": (f"{_SECRETS}/readMetadata/action", "list"),
    "GetDeletedSecret": (f"{_SECRETS}/readMetadata/action", "list"),
    "RecoverDeletedSecret": (f"{_SECRETS}/recover/action", "recover"),
    "PurgeDeletedSecret": (f"{_SECRETS}/purge/action", "purge"),
    "BackupSecret": (f"{_SECRETS}/backup/action", "backup"),
    "RestoreSecret": (f"{_SECRETS}/restore/action", "restore"),
}


def _vault_id(res: NamedResource) -> str:
    return (
        f"/subscriptions/{res.subscription_id}/resourceGroups/{res.resource_group}"
        f"/providers/Microsoft.KeyVault/vaults/{res.name}"
    )


def check_access(backend: Backend, vault: str, principal: Principal, op: str, name: str) -> None:
    """Raise Forbidden when the principal may not run `op` on secret `name` of the vault."""
    if principal.is_operator or op not in OPERATION_RIGHTS:
        return
    res = backend.arm.find_named("vault", vault)
    if res is None:
        return
    action, permission = OPERATION_RIGHTS[op]
    where = f"{res.name};location={res.location}"
    if res.properties.get("enableRbacAuthorization", True):
        resource = _vault_id(res) + (f"/secrets/{name}" if name else "")
        if backend.authz.allows_data_action(principal.object_id, resource, action):
            return
        # Message and inner error as Key Vault answers (seen in azure-cli #15528 and
        # terraform-provider-azurerm reports of ForbiddenByRbac).
        raise Forbidden(
            "Caller is not authorized to perform action on resource.\r\n"
            "If role assignments, deny assignments or role definitions were changed recently, "
            "please observe propagation time.\r\n"
            f"Caller: {principal.caller()}\r\n"
            f"Action: '{action}'\r\n"
            f"Resource: '{resource.lower()}'\r\n"
            "Assignment: (not found)\r\n"
            "DenyAssignmentId: null\r\n"
            "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
            f"Vault: {where}\r\n",
            "ForbiddenByRbac",
        )
    for policy in res.properties.get("accessPolicies") or []:
        if str(policy.get("objectId", "")).lower() != principal.object_id.lower():
            continue
        granted = {p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []}
        if permission in granted or "all" in granted:
            return
    raise Forbidden(
        f"The user, group or application '{principal.caller()}' does not have secrets "
        f"{permission} permission on key vault '{where}'. For help resolving this issue, "
        "please see https://go.microsoft.com/fwlink/?linkid=2125287",
        "AccessDenied",
    )
