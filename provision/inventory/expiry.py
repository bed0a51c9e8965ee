"""Secret expiry in the inventory: `secret_expiry` (in `defaults` or a tenant) and the same keys
beside one reference (`auth_key: {ref: "file:secrets/vt.txt", expires: 2027-03-31}`).

Either `expires_in` (an ISO 8601 duration, counted from the creation of the secret's current
version) or `expires` (a date, 00:00 UTC that day, or a date-time), and optionally `not_before`.
They become the Key Vault secret's `exp` and `nbf` attributes (`intended_dates`). A reference's
own keys replace the tenant's `secret_expiry` for that secret; a reference without them takes
the tenant's.

Key Vault still serves a secret's value outside its `nbf`/`exp` window ("A secret's get
operation will work for not-yet-valid and expired secrets": MicrosoftDocs/azure-security-docs,
articles/key-vault/secrets/about-secrets.md, "Date-time controlled operations"): the dates
inform, they do not lock msticpy out. docs/secrets-lifecycle.md says what that means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Tag, model_validator
from pydantic_core import PydanticCustomError

from provision.inventory.fields import FrozenModel, SecretRef

# Bounds that keep every date a Key Vault IntDate (seconds since 1970) that Python can also
# compute from now: a lifetime of at most a century, dates from 1970 to LAST_YEAR.
MAX_YEARS = 100
LAST_YEAR = 9000


def _moment(value: Any) -> datetime:
    """A date (00:00 UTC that day) or a date-time (UTC when it names no offset), as aware UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            value = None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        value = aware.astimezone(timezone.utc)
    elif isinstance(value, date):
        value = datetime.combine(value, time(), timezone.utc)
    if isinstance(value, datetime):
        if not 1970 <= value.year <= LAST_YEAR:
            raise PydanticCustomError("moment", f"must be a date between 1970 and {LAST_YEAR}")
        return value
    raise PydanticCustomError(
        "moment", "must be a date (2027-03-31) or a date-time (2027-03-31T12:00:00Z)"
    )


def _duration(value: Any) -> str:
    import isodate

    if not isinstance(value, str) or not value.startswith("P"):
        raise PydanticCustomError(
            "duration", "must be an ISO 8601 duration such as P90D, P6M or P1Y"
        )
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError):
        raise PydanticCustomError(
            "duration", f"{value!r} is not an ISO 8601 duration (P90D, P6M, P1Y)"
        ) from None
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    try:
        end = start + parsed
    except (OverflowError, ValueError):
        end = datetime.max.replace(tzinfo=timezone.utc)
    if end <= start:
        raise PydanticCustomError("duration", "must be longer than zero")
    if end > start.replace(year=start.year + MAX_YEARS):
        raise PydanticCustomError("duration", f"must be at most {MAX_YEARS} years (P{MAX_YEARS}Y)")
    return value


Moment = Annotated[datetime, BeforeValidator(_moment)]
Duration = Annotated[str, BeforeValidator(_duration)]


@dataclass(frozen=True)
class SecretDates:
    """A secret version's intended `exp` and `nbf` (None: not set)."""

    expires: datetime | None = None
    not_before: datetime | None = None

    def timestamps(self) -> tuple[int | None, int | None]:
        """(exp, nbf) in whole seconds, as Key Vault stores them."""
        return (
            None if self.expires is None else int(self.expires.timestamp()),
            None if self.not_before is None else int(self.not_before.timestamp()),
        )


class _ExpiryFields(FrozenModel):
    expires_in: Duration | None = None
    expires: Moment | None = None
    not_before: Moment | None = None

    def _check(self, required: bool) -> None:
        given = self.expires_in is not None, self.expires is not None
        if all(given):
            raise PydanticCustomError(
                "expiry", "give expires_in or expires, not both (one decides the date)"
            )
        if required and not any(given):
            raise PydanticCustomError("expiry", "needs expires_in (P90D) or expires (2027-03-31)")
        if self.expires and self.not_before and self.not_before >= self.expires:
            raise PydanticCustomError("expiry", "not_before must be before expires")

    def _own(self) -> SecretExpiry | None:
        if self.expires_in is None and self.expires is None and self.not_before is None:
            return None
        return SecretExpiry(
            expires_in=self.expires_in, expires=self.expires, not_before=self.not_before
        )


class SecretExpiry(_ExpiryFields):
    """`secret_expiry`: when the secrets it applies to expire, and from when they are valid."""

    @model_validator(mode="after")
    def _one_date(self) -> SecretExpiry:
        self._check(required=True)
        return self

    @property
    def lifetime(self) -> Any:
        """`expires_in` parsed (a timedelta, or isodate's Duration for months and years)."""
        import isodate

        return None if self.expires_in is None else isodate.parse_duration(self.expires_in)

    def dates(self, created: datetime | None, now: datetime) -> SecretDates:
        """`exp`/`nbf` for a version created at `created` (None: a version written now)."""
        if self.expires is not None:
            return SecretDates(self.expires, self.not_before)
        start = created if created is not None else now
        return SecretDates(start + self.lifetime, self.not_before)

    def describe(self) -> str:
        """The rule as the inventory writes it, for reports (`expires_in P90D`)."""
        if self.expires_in is not None:
            return f"expires_in {self.expires_in}"
        assert self.expires is not None  # _one_date
        return f"expires {self.expires.isoformat().replace('+00:00', 'Z')}"


class ExpiringRef(_ExpiryFields):
    """A secret reference with its own expiry: `{ref: "env:VT_KEY", expires_in: P90D}`."""

    ref: SecretRef

    @model_validator(mode="after")
    def _one_date(self) -> ExpiringRef:
        if self._own() is not None:
            self._check(required=True)
        return self

    @property
    def expiry(self) -> SecretExpiry | None:
        return self._own()


def _shape(value: Any) -> str:
    return "dict" if isinstance(value, dict | ExpiringRef) else "str"


# A secret reference as the inventory writes it: `env:NAME` / `file:PATH`, or a mapping with
# `ref` and its own expiry. The tags name the input's shape; the loader's error paths skip them.
SecretSource = Annotated[
    Annotated[SecretRef, Tag("str")] | Annotated[ExpiringRef, Tag("dict")],
    Discriminator(_shape),
]


def ref_of(value: str | ExpiringRef) -> str:
    """The reference (`env:NAME` / `file:PATH`) of a secret source."""
    return value if isinstance(value, str) else value.ref


def expiry_of(value: str | ExpiringRef, tenant_default: SecretExpiry | None) -> SecretExpiry | None:
    """The expiry that applies to a secret source: its own, else the tenant's."""
    own = None if isinstance(value, str) else value.expiry
    return own if own is not None else tenant_default


def intended_dates(
    expiry: SecretExpiry | None, created: datetime | None, now: datetime
) -> SecretDates:
    """A secret's intended `exp`/`nbf`: none without an expiry; `expires_in` counted from
    `created`, the creation of the version that holds the value (None: a new version, now)."""
    if expiry is None:
        return SecretDates()
    return expiry.dates(created, now)


def days_left(expires: datetime, now: datetime) -> float:
    """Days from `now` to `expires` (negative once expired)."""
    return (expires - now) / timedelta(days=1)
