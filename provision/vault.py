"""Key Vault reads and writes for one tenant's secrets (sibling of share.py and workspace.py).

Values are compared, never shown: a plan says `value differs`, not what either value is. Every
secret the tool writes carries tags naming the tool, the tenant, the source reference and the
msticpy setting it feeds, and a content type, so that an admin looking at the vault can tell
what wrote it and why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from provision.errors import TenantError
from provision.msticpy_contract.secret_names import SecretPush
from provision.plan import Action, Change, DesiredState, Kind, Reason
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

MANAGED_BY = "msticpy-provision"
SECRET_CONTENT_TYPE = "text/plain; msticpy-provision"  # noqa: S105 (a MIME type, not a secret)


def secret_tags(d: DesiredState, p: SecretPush) -> dict[str, str]:
    return {
        "managed-by": MANAGED_BY,
        "tenant": d.render.tenant.name,
        "source": p.source[:256],
        "setting": p.setting_path[:256],
    }


def plan_secret(client: SecretClient, d: DesiredState, p: SecretPush) -> Change:
    """Compare one secret in the vault with what the inventory wants."""
    from azure.core.exceptions import ResourceNotFoundError

    target = f"{p.vault}/{p.name}"
    try:
        current = client.get_secret(p.name)
    except ResourceNotFoundError:
        return Change.because(Kind.SECRET, target, Action.CREATE, Reason.ABSENT_SECRET)
    except Exception as exc:
        if is_disabled(exc):
            # Key Vault refuses to read a disabled secret (403, inner error SecretDisabled), so
            # its value is compared only after apply has enabled it again.
            return Change.because(Kind.SECRET, target, Action.UPDATE, Reason.DISABLED)
        raise TenantError(
            explain_azure_error(
                exc,
                d.render.tenant,
                f"secret {target}",
                "grant Key Vault Secrets Officer (or Get/Set secret access) on the vault",
            )
        ) from None
    seen = current.properties.version or ""  # for a plan's seal (provision.saved_plan)
    if current.value != d.values[p.source].reveal():
        reason = Reason.VALUE_DIFFERS
    elif current.properties.enabled is False:
        reason = Reason.DISABLED
    elif (current.properties.tags or {}) != secret_tags(d, p) or (
        current.properties.content_type != SECRET_CONTENT_TYPE
    ):
        reason = Reason.PROPERTIES_DIFFER
    else:
        return Change(Kind.SECRET, target, Action.NOOP, seen=seen)
    return replace(Change.because(Kind.SECRET, target, Action.UPDATE, reason), seen=seen)


def write_secret(client: SecretClient, d: DesiredState, p: SecretPush, reason: Reason) -> None:
    """Bring one secret to the desired state, for the reason the plan gave.

    A disabled secret is enabled first, then its value compared and set when it differs; a
    secret whose tags or content type differ gets only its properties written; otherwise the
    value is set, recovering a soft-deleted secret of that name first.
    """
    value = d.values[p.source].reveal()
    tags = secret_tags(d, p)
    if reason in {Reason.DISABLED, Reason.PROPERTIES_DIFFER}:
        client.update_secret_properties(
            p.name, content_type=SECRET_CONTENT_TYPE, tags=tags, enabled=True
        )
        if reason == Reason.PROPERTIES_DIFFER or client.get_secret(p.name).value == value:
            return
    set_value(client, p.name, value, content_type=SECRET_CONTENT_TYPE, tags=tags)


def set_value(
    client: SecretClient, name: str, value: str, *, content_type: str, tags: dict[str, str]
) -> None:
    """Set a secret's value, recovering a soft-deleted secret of that name first (it keeps its
    history); a recovered secret that already holds `value` gets only its properties."""
    from azure.core.exceptions import HttpResponseError

    try:
        client.set_secret(name, value, content_type=content_type, tags=tags)
    except HttpResponseError as exc:
        if not is_deleted_but_recoverable(exc):
            raise
        client.begin_recover_deleted_secret(name).result()
        if client.get_secret(name).value != value:
            client.set_secret(name, value, content_type=content_type, tags=tags)
        else:
            client.update_secret_properties(
                name, content_type=content_type, tags=tags, enabled=True
            )


def read_back_matches(client: SecretClient, d: DesiredState, p: SecretPush) -> bool:
    got = client.get_secret(p.name)
    return bool(got.value == d.values[p.source].reveal())


def _error_codes(exc: Exception) -> str:
    """The error code, the inner error code and the message of an azure-core error, as text."""
    error: Any = getattr(exc, "error", None)
    inner = getattr(error, "innererror", None) or {}
    code = inner.get("code") if isinstance(inner, dict) else getattr(inner, "code", None)
    return f"{getattr(error, 'code', '')} {code} {getattr(exc, 'message', '')}"


def is_deleted_but_recoverable(exc: Exception) -> bool:
    """Key Vault's 409 for a name held by a soft-deleted secret."""
    return getattr(exc, "status_code", None) == 409 and (
        "ObjectIsDeletedButRecoverable" in _error_codes(exc)
    )


def is_disabled(exc: Exception) -> bool:
    """Key Vault's 403 for reading a disabled secret (inner error `SecretDisabled`)."""
    return getattr(exc, "status_code", None) == 403 and "SecretDisabled" in _error_codes(exc)
