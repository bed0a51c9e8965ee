"""The built-in Azure Policy definitions the tool understands, as data.

Each id, display name, mode and parameter was read in Azure/azure-policy
(built-in-policies/policyDefinitions/...); every one of them takes an `effect` parameter of
Audit, Deny or Disabled whose default is Audit. Custom definitions are not evaluated: what their
rules mean is the tenant's, and the tool says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

BUILTIN_PREFIX = "/providers/Microsoft.Authorization/policyDefinitions/"


class Rule(str, Enum):
    """What a definition asks of something the tool writes or depends on."""

    SECRET_EXPIRATION = "secret-expiration"  # noqa: S105 (a secret must carry exp)
    SECRET_MAX_VALIDITY = "secret-max-validity"  # noqa: S105 (exp <= version created + N days)
    SECRET_MIN_DAYS_LEFT = "secret-min-days-left"  # noqa: S105 (exp >= now + N days)
    STORAGE_NO_SHARED_KEY = "storage-no-shared-key"  # allowSharedKeyAccess must be false
    COMPUTE_IDLE_SHUTDOWN = "compute-idle-shutdown"  # a compute instance needs idle shutdown
    VAULT_SOFT_DELETE = "vault-soft-delete"
    VAULT_PURGE_PROTECTION = "vault-purge-protection"  # soft delete and purge protection

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Builtin:
    id: str  # the definition's name (a GUID); its ARM id is BUILTIN_PREFIX + id
    display_name: str
    mode: str
    rule: Rule
    days_parameter: str | None = None  # the Integer parameter of a bounded expiry

    @property
    def arm_id(self) -> str:
        return BUILTIN_PREFIX + self.id


BUILTINS: tuple[Builtin, ...] = (
    # Key Vault/Secrets_ExpirationSet.json
    Builtin(
        "98728c90-32c7-4049-8429-847dc0f4fe37",
        "Key Vault secrets should have an expiration date",
        "Microsoft.KeyVault.Data",
        Rule.SECRET_EXPIRATION,
    ),
    # Key Vault/Secrets_ValidityPeriod.json: expiresOn absent, or later than createdOn + N days
    Builtin(
        "342e8053-e12e-4c44-be01-c3c2f318400f",
        "Secrets should have the specified maximum validity period",
        "Microsoft.KeyVault.Data",
        Rule.SECRET_MAX_VALIDITY,
        days_parameter="maximumValidityInDays",
    ),
    # Key Vault/Secrets_Expiry_ByDays.json: expiresOn present and earlier than now + N days
    Builtin(
        "b0eb591a-5e70-4534-a8bf-04b9c489584a",
        "Secrets should have more than the specified number of days before expiration",
        "Microsoft.KeyVault.Data",
        Rule.SECRET_MIN_DAYS_LEFT,
        days_parameter="minimumDaysBeforeExpiration",
    ),
    # Storage/StorageAccountAllowSharedKeyAccess_Audit.json
    Builtin(
        "8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",
        "Storage accounts should prevent shared key access",
        "Indexed",
        Rule.STORAGE_NO_SHARED_KEY,
    ),
    # Machine Learning/IdleShutdown_Audit.json: computeType ComputeInstance without (or with an
    # empty) idleTimeBeforeShutdown
    Builtin(
        "679ddf89-ab8f-48a5-9029-e76054077449",
        "Azure Machine Learning Compute Instance should have idle shutdown.",
        "All",
        Rule.COMPUTE_IDLE_SHUTDOWN,
    ),
    # Key Vault/SoftDeleteMustBeEnabled_Audit.json
    Builtin(
        "1e66c121-a66a-4b1f-9b83-0fd99bf0fc2d",
        "Key vaults should have soft delete enabled",
        "Indexed",
        Rule.VAULT_SOFT_DELETE,
    ),
    # Key Vault/Recoverable_Audit.json
    Builtin(
        "0b60c0b2-2dc2-4e1c-b5c9-abbed971de53",
        "Key vaults should have deletion protection enabled",
        "Indexed",
        Rule.VAULT_PURGE_PROTECTION,
    ),
)

DEFAULT_EFFECT = "Audit"
_BY_ID = {b.id: b for b in BUILTINS}


def builtin(definition_id: str) -> Builtin | None:
    """The built-in a definition id names (`/providers/Microsoft.Authorization/policyDefinitions/
    {guid}`, any case), or None: a custom definition, or a built-in the tool does not act on."""
    if not definition_id.lower().startswith(BUILTIN_PREFIX.lower()):
        return None
    return _BY_ID.get(definition_id[len(BUILTIN_PREFIX) :].lower())
