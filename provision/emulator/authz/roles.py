"""The built-in Azure roles the emulator knows, with their real ids, actions and data actions.

Ids and data actions are Azure's built-in role definitions (Microsoft Learn, "Azure built-in
roles": Security / Storage / General). Only the roles the tool and its users meet are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BUILTIN_ROLES", "Role", "role_by_id", "role_by_name"]


@dataclass(frozen=True)
class Role:
    id: str  # the role definition's GUID (its name in ARM)
    name: str
    description: str
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


_KV = "Microsoft.KeyVault/vaults"
_FILES = "Microsoft.Storage/storageAccounts/fileServices/fileshares/files"

BUILTIN_ROLES: tuple[Role, ...] = (
    Role(
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in "
        "Azure RBAC.",
        actions=("*",),
    ),
    Role(
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in "
        "Azure RBAC.",
        actions=("*",),
    ),
    Role(
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Reader",
        "View all resources, but does not allow you to make any changes.",
        actions=("*/read",),
    ),
    Role(
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        "Key Vault Administrator",
        "Perform all data plane operations on a key vault and all objects in it, including "
        "certificates, keys, and secrets.",
        actions=("Microsoft.Authorization/*/read", f"{_KV}/*/read"),
        data_actions=(f"{_KV}/*",),
    ),
    Role(
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets Officer",
        "Perform any action on the secrets of a key vault, except manage permissions.",
        actions=("Microsoft.Authorization/*/read", f"{_KV}/*/read"),
        data_actions=(f"{_KV}/secrets/*",),
    ),
    Role(
        "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Secrets User",
        "Read secret contents.",
        data_actions=(f"{_KV}/secrets/getSecret/action", f"{_KV}/secrets/readMetadata/action"),
    ),
    Role(
        "21090545-7ca7-4776-b22c-e363652d74d2",
        "Key Vault Reader",
        "Read metadata of key vaults and its certificates, keys, and secrets.",
        actions=("Microsoft.Authorization/*/read", f"{_KV}/*/read"),
        data_actions=(f"{_KV}/*/read", f"{_KV}/secrets/readMetadata/action"),
    ),
    Role(
        "69566ab7-960f-475b-8e7c-b3118f30c6bd",
        "Storage File Data Privileged Contributor",
        "Allows for read, write, delete, and modify ACLs on files/directories in Azure file "
        "shares by overriding existing ACLs/NTFS permissions.",
        data_actions=(
            f"{_FILES}/read",
            f"{_FILES}/write",
            f"{_FILES}/delete",
            f"{_FILES}/modifypermissions/action",
            f"{_FILES}/readFileBackupSemantics/action",
            f"{_FILES}/writeFileBackupSemantics/action",
        ),
    ),
    Role(
        "b8eda974-7b85-4f76-af95-65846b26df6d",
        "Storage File Data Privileged Reader",
        "Allows for read access on files/directories in Azure file shares by overriding existing "
        "ACLs/NTFS permissions.",
        data_actions=(f"{_FILES}/read", f"{_FILES}/readFileBackupSemantics/action"),
    ),
)

_BY_ID = {r.id: r for r in BUILTIN_ROLES}
_BY_NAME = {r.name.lower(): r for r in BUILTIN_ROLES}


def role_by_id(role_id: str) -> Role | None:
    """The role of a GUID or of a full role definition id (``.../roleDefinitions/<guid>``)."""
    return _BY_ID.get(role_id.rstrip("/").rsplit("/", 1)[-1].lower())


def role_by_name(name: str) -> Role | None:
    return _BY_NAME.get(name.lower())
