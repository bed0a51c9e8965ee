"""secret_expiry in the inventory: the fields, their FILE:LINE errors, and each secret's dates."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from provision import clock
from provision.errors import UserInputError
from provision.inventory.expiry import SecretExpiry, intended_dates
from provision.inventory.load import load_inventory
from provision.msticpy_contract.secret_names import secret_pushes

UTC = timezone.utc
OTX_LINE = re.compile(r'args: \{auth_key: "file:secrets/contoso-otx.txt"\}')


def _fleet(fleet: Path, *, defaults: str = "", otx: str | None = None) -> Path:
    text = fleet.read_text(encoding="utf-8")
    if defaults:
        text = text.replace("defaults:\n", f"defaults:\n  secret_expiry: {defaults}\n", 1)
    if otx is not None:
        text, n = OTX_LINE.subn(f"args: {{auth_key: {otx}}}", text)
        assert n == 1
    fleet.write_text(text, encoding="utf-8")
    return fleet


def _pushes(inv_path: Path) -> dict[str, SecretExpiry | None]:
    inv = load_inventory(inv_path)
    return {p.name: p.expiry for p in secret_pushes(inv.tenants[0])}


def test_defaults_apply_to_every_secret_and_a_reference_keeps_its_own(fleet: Path) -> None:
    path = _fleet(
        fleet,
        defaults="{expires_in: P90D}",
        otx='{ref: "file:secrets/contoso-otx.txt", expires: 2027-03-31, not_before: 2026-01-01}',
    )
    got = _pushes(path)
    assert got["TIProviders-VirusTotal-Args-AuthKey"] == SecretExpiry(expires_in="P90D")
    own = got["TIProviders-OTX-Args-AuthKey"]
    assert own is not None and own.expires == datetime(2027, 3, 31, tzinfo=UTC)
    assert own.not_before == datetime(2026, 1, 1, tzinfo=UTC)
    # the reference itself is unchanged for everything else (rendering, rotate's matching)
    inv = load_inventory(path)
    otx = next(p for p in secret_pushes(inv.tenants[0]) if "OTX" in p.name)
    assert otx.source == "file:secrets/contoso-otx.txt"


def test_a_tenants_secret_expiry_replaces_the_defaults_as_a_whole(fleet: Path) -> None:
    path = _fleet(fleet, defaults="{expires_in: P90D, not_before: 2026-01-01}")
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "    key_vault: kv-contoso-nb",
        "    key_vault: kv-contoso-nb\n    secret_expiry: {expires: 2027-03-31}",
        1,
    )
    path.write_text(text, encoding="utf-8")
    inv = load_inventory(path)
    contoso, fabrikam = inv.tenants
    assert contoso.secret_expiry == SecretExpiry(expires="2027-03-31")  # no inherited keys
    assert fabrikam.secret_expiry == SecretExpiry(expires_in="P90D", not_before="2026-01-01")


def test_without_secret_expiry_no_secret_has_dates(fleet: Path) -> None:
    assert set(_pushes(fleet).values()) == {None}


@pytest.mark.parametrize(
    ("otx", "message"),
    [
        (
            '{ref: "file:secrets/contoso-otx.txt", expires: 2027-03-31, expires_in: P1D}',
            "auth_key: give expires_in or expires, not both",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", expires: 2027-03-31, not_before: 2028-01-01}',
            "auth_key: not_before must be before expires",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", expires: soon}',
            "auth_key.expires: must be a date (2027-03-31) or a date-time",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", expires_in: P0D}',
            "auth_key.expires_in: must be longer than zero",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", not_before: 2026-01-01}',
            "auth_key: needs expires_in (P90D) or expires (2027-03-31)",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", expire: 2027-03-31}',
            "auth_key.expire: unknown key (did you mean 'expires'?)",
        ),
        ('{ref: "hunter2", expires_in: P1D}', "auth_key.ref: secret values must be references"),
        (
            '{ref: "file:secrets/contoso-otx.txt", expires_in: P10000Y}',
            "auth_key.expires_in: must be at most 100 years (P100Y)",
        ),
        (
            '{ref: "file:secrets/contoso-otx.txt", expires: 0001-01-01}',
            "auth_key.expires: must be a date between 1970 and 9000",
        ),
    ],
)
def test_a_bad_expiry_beside_a_reference_is_one_located_line(
    fleet: Path, otx: str, message: str
) -> None:
    path = _fleet(fleet, otx=otx)
    line = 2 + next(i for i, text in enumerate(path.read_text().splitlines()) if "OTX:" in text)
    with pytest.raises(UserInputError) as exc:
        load_inventory(path)
    (only,) = exc.value.lines()
    assert only.startswith(f"{path}:{line}: tenants[0].ti_providers.OTX.args.{message}")
    assert "hunter2" not in str(exc.value)


def test_a_bad_default_is_reported_at_the_defaults_line(fleet: Path) -> None:
    path = _fleet(fleet, defaults="{expires_in: 90d}")
    with pytest.raises(UserInputError) as exc:
        load_inventory(path)
    assert exc.value.lines() == [
        f"{path}:10: defaults.secret_expiry.expires_in: must be an ISO 8601 duration such as "
        "P90D, P6M or P1Y"
    ]


def test_expires_in_counts_from_the_versions_creation_and_months_are_calendar_months() -> None:
    created = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)
    now = datetime(2026, 2, 20, tzinfo=UTC)
    rule = SecretExpiry(expires_in="P30D")
    assert intended_dates(rule, created, now).expires == created + timedelta(days=30)
    assert intended_dates(rule, None, now).expires == now + timedelta(days=30)  # a new version
    months = SecretExpiry(expires_in="P1M")
    assert intended_dates(months, created, now).expires == datetime(2026, 2, 28, 8, tzinfo=UTC)
    fixed = SecretExpiry(expires="2027-03-31", not_before="2026-01-01T06:00:00+02:00")
    dates = intended_dates(fixed, created, now)
    assert dates.timestamps() == (
        int(datetime(2027, 3, 31, tzinfo=UTC).timestamp()),
        int(datetime(2026, 1, 1, 4, tzinfo=UTC).timestamp()),
    )
    assert intended_dates(None, created, now).timestamps() == (None, None)


def test_the_clock_reads_its_override_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.NOW_ENV, "2027-01-01T00:00:00Z")
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)
    monkeypatch.setenv(clock.NOW_ENV, "2027-01-02T00:00:00+01:00")
    assert clock.timestamp() == int(datetime(2027, 1, 1, 23, tzinfo=UTC).timestamp())
    monkeypatch.setenv(clock.NOW_ENV, "tomorrow")
    with pytest.raises(UserInputError, match="not an ISO 8601 date-time"):
        clock.now()
    monkeypatch.setenv(clock.NOW_ENV, "2027-01-01T00:00:00")
    with pytest.raises(UserInputError, match="needs its offset"):
        clock.now()
    monkeypatch.delenv(clock.NOW_ENV)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
