"""Key Vault reads and writes for one tenant's secrets (sibling of share.py and workspace.py).

Values are compared, never shown: a plan says `value differs`, not what either value is. Every
secret the tool writes carries tags naming the tool, the tenant, the source reference and the
msticpy setting it feeds, and a content type, so that an admin looking at the vault can tell
what wrote it and why.

Expiry (provision.inventory.expiry): a secret's `exp`/`nbf` are the inventory's, `expires_in`
counted from the `created` time of the version that holds the value. An unchanged value keeps its
version and so its dates; a new value is a new version with a fresh `exp`; dates that differ
alone are patched onto the version (`update_secret_properties`, no new version), and dates the
inventory no longer sets are dropped by a new version of the same value (a PATCH cannot unset
them). Dates counted from `created` match within `CLOCK_TOLERANCE`: the version is stamped by
Key Vault's clock, its `exp` was worked out by this machine's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from provision import clock
from provision.errors import TenantError
from provision.inventory.expiry import SecretDates, intended_dates
from provision.msticpy_contract.secret_names import SecretPush
from provision.plan import Action, Change, DesiredState, Kind, Reason
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties

MANAGED_BY = "msticpy-provision"
SECRET_CONTENT_TYPE = "text/plain; msticpy-provision"  # noqa: S105 (a MIME type, not a secret)
# How far an `exp` counted from `created` may be from created + expires_in and still match: the
# runner's clock and Key Vault's differ by seconds, and a version is stamped after the request
# left. Far below any lifetime worth setting (days), far above clock skew and request time.
CLOCK_TOLERANCE = timedelta(minutes=15)
READ_BACK_DIFFERS = "read back differs (value, enabled or expiry dates)"  # read_back_matches False


@dataclass(frozen=True)
class SecretRead:
    """What plan found for one secret: its change, and the `exp` of the version that stands
    once apply has run (the current one when the value is unchanged, else a new one)."""

    change: Change
    expires: datetime | None = None


def secret_tags(d: DesiredState, p: SecretPush) -> dict[str, str]:
    return {
        "managed-by": MANAGED_BY,
        "tenant": d.render.tenant.name,
        "source": p.source[:256],
        "setting": p.setting_path[:256],
    }


def plan_secret(client: SecretClient, d: DesiredState, p: SecretPush) -> SecretRead:
    """Compare one secret in the vault with what the inventory wants."""
    from azure.core.exceptions import ResourceNotFoundError

    target = f"{p.vault}/{p.name}"
    now = clock.now()
    fresh = intended_dates(p.expiry, None, now).expires  # the exp of a version written now
    try:
        current = client.get_secret(p.name)
    except ResourceNotFoundError:
        change = Change.because(Kind.SECRET, target, Action.CREATE, Reason.ABSENT_SECRET)
        return SecretRead(change, fresh)
    except Exception as exc:
        if is_disabled(exc):
            # Key Vault refuses to read a disabled secret (403, inner error SecretDisabled), so
            # its value is compared only after apply has enabled it again.
            change = Change.because(Kind.SECRET, target, Action.UPDATE, Reason.DISABLED)
            return SecretRead(change, fresh)
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
        change = Change.because(Kind.SECRET, target, Action.UPDATE, Reason.VALUE_DIFFERS)
        change = replace(change, seen=seen)
        return SecretRead(change, fresh)
    props = current.properties
    wanted = intended_dates(p.expiry, props.created_on, now)
    return SecretRead(replace(judge_properties(props, d, p, wanted), seen=seen), wanted.expires)


def judge_properties(
    props: SecretProperties, d: DesiredState, p: SecretPush, wanted: SecretDates
) -> Change:
    """A secret whose value is as wanted (or not compared): enabled, tags, content type, dates."""
    target = f"{p.vault}/{p.name}"
    if props.enabled is False:
        return Change.because(Kind.SECRET, target, Action.UPDATE, Reason.DISABLED)
    if (props.tags or {}) != secret_tags(d, p) or (props.content_type != SECRET_CONTENT_TYPE):
        return Change.because(Kind.SECRET, target, Action.UPDATE, Reason.PROPERTIES_DIFFER)
    if _dropped(props, wanted):
        return Change.because(Kind.SECRET, target, Action.UPDATE, Reason.DATES_DROPPED)
    if not dates_match(props, wanted, counted=_counted(p)):
        return Change.because(Kind.SECRET, target, Action.UPDATE, Reason.DATES_DIFFER)
    return Change(Kind.SECRET, target, Action.NOOP)


def dates_match(props: SecretProperties, wanted: SecretDates, *, counted: bool) -> bool:
    """Whether a version's `exp`/`nbf` are the wanted ones (an `exp` counted from `created`
    within CLOCK_TOLERANCE, any other date to the second, as Key Vault stores them)."""

    def same(got: datetime | None, want: datetime | None, slack: timedelta) -> bool:
        if got is None or want is None:
            return got is None and want is None
        return abs(got - want) <= slack

    exact = timedelta(seconds=1)
    return same(props.expires_on, wanted.expires, CLOCK_TOLERANCE if counted else exact) and same(
        props.not_before, wanted.not_before, exact
    )


def write_secret(client: SecretClient, d: DesiredState, p: SecretPush, reason: Reason) -> None:
    """Bring one secret to the desired state, for the reason the plan gave.

    A disabled secret is enabled first, then its value compared and set when it differs (and
    its dates put right when it does not); a secret whose tags, content type or dates differ
    gets only its properties written; otherwise the value is set (a new version, dated afresh),
    recovering a soft-deleted secret of that name first.
    """
    value = d.values[p.source].reveal()
    tags = secret_tags(d, p)
    dates = functools.partial(_dates, p)
    if reason in {Reason.PROPERTIES_DIFFER, Reason.DATES_DIFFER}:
        wanted = dates(client.get_secret(p.name).properties.created_on)
        _patch(client, p.name, SECRET_CONTENT_TYPE, tags, wanted)
        return
    if reason == Reason.DISABLED:
        # Key Vault serves no value of a disabled secret: enable it, then compare.
        client.update_secret_properties(
            p.name, content_type=SECRET_CONTENT_TYPE, tags=tags, enabled=True
        )
        current = client.get_secret(p.name)
        wanted = dates(current.properties.created_on)
        if current.value == value:
            if _dropped(current.properties, wanted):
                _set(client, p.name, value, SECRET_CONTENT_TYPE, tags, dates(None))
            elif not dates_match(current.properties, wanted, counted=_counted(p)):
                _patch(client, p.name, SECRET_CONTENT_TYPE, tags, wanted)
            return
    set_value(client, p.name, value, content_type=SECRET_CONTENT_TYPE, tags=tags, dates=dates)


def _dates(p: SecretPush, created: datetime | None) -> SecretDates:
    return intended_dates(p.expiry, created, clock.now())


def _counted(p: SecretPush) -> bool:
    """Whether the secret's `exp` is counted from its version's creation (`expires_in`)."""
    return p.expiry is not None and p.expiry.expires is None


def _dropped(props: SecretProperties, wanted: SecretDates) -> bool:
    """A date the version has that the inventory no longer sets (only a new version drops it)."""
    return (wanted.expires is None and props.expires_on is not None) or (
        wanted.not_before is None and props.not_before is not None
    )


def _patch(
    client: SecretClient, name: str, content_type: str, tags: dict[str, str], dates: SecretDates
) -> None:
    client.update_secret_properties(
        name,
        content_type=content_type,
        tags=tags,
        enabled=True,
        expires_on=dates.expires,
        not_before=dates.not_before,
    )


def set_value(
    client: SecretClient,
    name: str,
    value: str,
    *,
    content_type: str,
    tags: dict[str, str],
    dates: Callable[[datetime | None], SecretDates] = lambda created: SecretDates(),
) -> KeyVaultSecret:
    """Set a secret's value, recovering a soft-deleted secret of that name first (it keeps its
    history); a recovered secret that already holds `value` gets only its properties. `dates`
    gives the `exp`/`nbf` for a version created at the given time (None: the new one)."""
    from azure.core.exceptions import HttpResponseError

    new = dates(None)
    try:
        return _set(client, name, value, content_type, tags, new)
    except HttpResponseError as exc:
        if not is_deleted_but_recoverable(exc):
            raise
        client.begin_recover_deleted_secret(name).result()
        current = client.get_secret(name)
        if current.value != value:
            return _set(client, name, value, content_type, tags, new)
        _patch(client, name, content_type, tags, dates(current.properties.created_on))
        return current


def _set(
    client: SecretClient,
    name: str,
    value: str,
    content_type: str,
    tags: dict[str, str],
    dates: SecretDates,
) -> KeyVaultSecret:
    return client.set_secret(
        name,
        value,
        content_type=content_type,
        tags=tags,
        expires_on=dates.expires,
        not_before=dates.not_before,
    )


def read_back_matches(client: SecretClient, d: DesiredState, p: SecretPush) -> bool:
    """Whether the secret now holds the desired value, enabled, with its intended dates."""
    got = client.get_secret(p.name)
    if got.value != d.values[p.source].reveal():
        return False
    wanted = _dates(p, got.properties.created_on)
    return got.properties.enabled is not False and dates_match(
        got.properties, wanted, counted=_counted(p)
    )


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
