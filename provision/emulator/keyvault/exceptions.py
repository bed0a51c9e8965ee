"""Key Vault errors: each knows its HTTP status, error code and (where Azure sends one) the
inner error code. Rendered as ``{"error": {"code", "message"[, "innererror": {"code"}]}}``."""

from __future__ import annotations

from provision.emulator.wire import ServiceError

__all__ = [
    "BadParameter",
    "Forbidden",
    "KeyVaultError",
    "SecretConflict",
    "SecretDisabled",
    "SecretNotFound",
    "Unauthorized",
    "VaultNotFound",
]

_HELP = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"


class KeyVaultError(ServiceError):
    inner_code: str | None = None


class Unauthorized(KeyVaultError):
    status = 401
    code = "Unauthorized"


class BadParameter(KeyVaultError):
    status = 400
    code = "BadParameter"


class SecretNotFound(KeyVaultError):
    status = 404
    code = "SecretNotFound"

    @classmethod
    def live(cls, name: str, version: str | None = None) -> SecretNotFound:
        ident = f"{name}/{version}" if version else name
        return cls(
            f"A secret with (name/id) {ident} was not found in this key vault. If you "
            "recently deleted this secret you may be able to recover it using the "
            f"correct recovery command. {_HELP}"
        )

    @classmethod
    def deleted(cls, name: str) -> SecretNotFound:
        return cls(f"Deleted Secret not found: {name}")


class SecretConflict(KeyVaultError):
    status = 409
    code = "Conflict"

    def __init__(self, message: str, inner_code: str) -> None:
        super().__init__(message)
        self.inner_code = inner_code

    @classmethod
    def deleted_but_recoverable(cls, name: str) -> SecretConflict:
        return cls(
            f"Secret {name} is currently in a deleted but recoverable state, and its name "
            "cannot be reused; in this state, the secret can only be recovered or purged.",
            "ObjectIsDeletedButRecoverable",
        )

    @classmethod
    def already_exists(cls, name: str) -> SecretConflict:
        return cls(
            f"Secret {name} already exists and cannot be restored over.", "ObjectAlreadyExists"
        )


class SecretDisabled(KeyVaultError):
    status = 403
    code = "Forbidden"
    inner_code = "SecretDisabled"


class VaultNotFound(KeyVaultError):
    """No vault of that name. Never rendered: the server drops the connection instead, as a
    client of real Azure gets a DNS failure for ``<name>.vault.azure.net``."""

    status = 404
    code = "VaultNotFound"


class Forbidden(KeyVaultError):
    """A caller without the right: ``ForbiddenByRbac`` (RBAC vault) or ``AccessDenied``
    (access-policy vault) as the inner error, with Key Vault's wording."""

    status = 403
    code = "Forbidden"

    def __init__(self, message: str, inner_code: str) -> None:
        super().__init__(message)
        self.inner_code = inner_code
