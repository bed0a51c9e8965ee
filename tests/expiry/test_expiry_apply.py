"""Expiry through apply and plan, against the emulator, read back with the official SDK client:
the dates written, kept while time passes, renewed with a new value, patched when they alone
change, reported before they pass and failing the run once they have."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.keyvault.secrets import KeyVaultSecret
from expiry_helpers import (
    CONTOSO_VAULT,
    OTX,
    OTX_SOURCE,
    T0,
    at,
    days,
    run,
    run_json,
    set_otx_expiry,
    writes_since,
)
from support.clients import secret_client

from provision.emulator import Emulator


def _otx(emu: Emulator) -> KeyVaultSecret:
    return secret_client(emu, CONTOSO_VAULT).get_secret(OTX)


def _applied_at_t0(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch, keys: str
) -> KeyVaultSecret:
    """contoso's OTX key with its own expiry `keys`, applied at T0; the key as written."""
    set_otx_expiry(fleet, keys)
    at(monkeypatch, T0)
    res = run("apply", fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    return _otx(emu)


@pytest.mark.slow  # two applies of the example fleet
def test_apply_writes_exp_and_a_day_later_writes_nothing(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _applied_at_t0(fleet, emu, monkeypatch, "expires_in: P10D, not_before: 2026-11-01")
    assert first.properties.created_on == T0
    assert first.properties.expires_on == T0 + days(10)
    assert first.properties.not_before == T0.replace(month=11, day=1, hour=0)
    # a secret without expiry keeps none
    vt = secret_client(emu, CONTOSO_VAULT).get_secret("TIProviders-VirusTotal-Args-AuthKey")
    assert vt.properties.expires_on is None and vt.properties.not_before is None

    at(monkeypatch, T0 + days(1))
    mark = len(emu.requests())
    code, doc = run_json("apply", fleet, emu)
    assert code == 0, doc
    assert writes_since(emu, mark) == []
    again = _otx(emu)
    assert again.properties.version == first.properties.version
    assert again.properties.expires_on == T0 + days(10)
    # still within the 30-day window, now 9 days out
    assert [(e["secret"], e["days_left"]) for e in doc["expiring"]] == [(OTX, 9.0)]


@pytest.mark.slow  # two applies of the example fleet
def test_a_new_value_is_a_new_version_with_a_fresh_expiry(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _applied_at_t0(fleet, emu, monkeypatch, "expires_in: P10D")

    (fleet.parent / OTX_SOURCE.removeprefix("file:")).write_text("NEW-OTX-KEY-0002\n")
    at(monkeypatch, T0 + days(3))
    res = run("apply", fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    after = _otx(emu)
    assert after.value == "NEW-OTX-KEY-0002"
    assert after.properties.version != before.properties.version
    assert after.properties.created_on == T0 + days(3)
    assert after.properties.expires_on == T0 + days(13)
    assert "NEW-OTX-KEY" not in res.stdout + res.stderr


@pytest.mark.slow  # four or five runs of the tool
def test_changing_only_the_dates_patches_the_version_it_has(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _applied_at_t0(fleet, emu, monkeypatch, "expires_in: P10D")

    set_otx_expiry(fleet, "expires_in: P20D")
    at(monkeypatch, T0 + days(2))
    code, plan = run_json("plan", fleet, emu)
    assert code == 0
    items = {i["target"]: i for i in plan["tenants"][0]["items"]}
    assert items[f"{CONTOSO_VAULT}/{OTX}"]["detail"] == "expiry dates differ"
    mark = len(emu.requests())
    assert run("apply", fleet, emu).returncode == 0
    ops = [(w["method"], w["op"]) for w in writes_since(emu, mark) if OTX in w["path"]]
    assert ops == [("PATCH", "UpdateSecret")]  # no new version
    after = _otx(emu)
    assert after.properties.version == before.properties.version
    assert after.properties.created_on == T0
    assert after.properties.expires_on == T0 + days(20)  # counted from the version's creation

    # expiry taken out of the inventory: a PATCH cannot unset exp, a new version of the same
    # value has none
    set_otx_expiry(fleet, None)
    assert run("apply", fleet, emu).returncode == 0
    last = _otx(emu)
    assert last.properties.expires_on is None
    assert last.value == after.value and last.properties.version != after.properties.version


@pytest.mark.slow  # four or five runs of the tool
def test_an_expired_secret_fails_plan_and_verify_with_one_line(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _applied_at_t0(fleet, emu, monkeypatch, "expires_in: P10D")
    at(monkeypatch, T0 + days(11))
    code, doc = run_json("plan", fleet, emu, "--detailed-exitcode")
    assert code == 1
    (item,) = doc["expiring"]
    assert item == {
        "tenant": "contoso",
        "vault": CONTOSO_VAULT,
        "secret": OTX,
        "source": OTX_SOURCE,
        "expires": "2026-12-11T08:00:00Z",
        "days_left": -1.0,
        "expired": True,
    }
    assert doc["tenants"][0]["error"] == (
        f"secret {CONTOSO_VAULT}/{OTX} (source {OTX_SOURCE}) expired 2026-12-11T08:00:00Z: "
        "change the source's value (msticpy-provision rotate) or its expiry in the inventory"
    )
    table = run("verify", fleet, emu)
    assert table.returncode == 1
    assert f"error: secret {CONTOSO_VAULT}/{OTX} (source {OTX_SOURCE}) expired" in table.stdout


@pytest.mark.slow  # four or five runs of the tool
def test_the_warning_window_is_a_flag_and_metadata_plans_warn_too(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _applied_at_t0(fleet, emu, monkeypatch, "expires: 2026-12-31")
    _, wide = run_json("plan", fleet, emu)
    assert [e["days_left"] for e in wide["expiring"]] == [29.7]
    _, narrow = run_json("plan", fleet, emu, "--warn-expiry", "7")
    assert narrow["expiring"] == []
    _, metadata = run_json("plan", fleet, emu, "--no-secret-values")
    assert [e["secret"] for e in metadata["expiring"]] == [OTX]
    table = run("plan", fleet, emu, "--detailed-exitcode")
    assert table.returncode == 0  # expiring does not change the exit code
    assert f"note: secret {CONTOSO_VAULT}/{OTX} (source {OTX_SOURCE}) expires 2026-12-31" in (
        table.stdout
    )
    # an hour before the date: 0.0 days left, still not expired, still exit code 0
    at(monkeypatch, T0.replace(day=30, hour=23))
    code, last_hour = run_json("plan", fleet, emu, "--detailed-exitcode")
    assert code == 0
    assert [(e["days_left"], e["expired"]) for e in last_hour["expiring"]] == [(0.0, False)]
    bad = run("plan", fleet, emu, "--warn-expiry", "-1")
    assert bad.returncode == 1 and "--warn-expiry -1: use 0 or more days" in bad.stderr


@pytest.mark.slow  # two applies of the example fleet
def test_a_disabled_secret_with_other_dates_is_enabled_and_redated_in_place(
    fleet: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _applied_at_t0(fleet, emu, monkeypatch, "expires_in: P10D")
    # someone disables the key and moves its date in the portal
    secret_client(emu, CONTOSO_VAULT).update_secret_properties(
        OTX, enabled=False, expires_on=T0 + days(400)
    )
    at(monkeypatch, T0 + days(1))
    mark = len(emu.requests())
    res = run("apply", fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    ops = [w["op"] for w in writes_since(emu, mark) if OTX in w["path"]]
    assert ops == ["UpdateSecret", "UpdateSecret"]  # enabled, then the dates: no new version
    after = _otx(emu)
    assert after.properties.enabled is True
    assert after.properties.version == before.properties.version
    assert after.properties.expires_on == T0 + days(10)
