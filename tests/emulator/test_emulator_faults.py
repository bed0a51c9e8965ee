"""Fault injection: the SPEC grammar, and the official SDKs' retry policies riding it out."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from emulator_helpers import TENANT, log_since, unique
from support.clients import ml_client, secret_client, share_client

from provision.emulator import Emulator
from provision.emulator.faults import FaultInjector, FaultRule, parse_fault_spec
from provision.errors import UserInputError


def test_spec_parses_every_effect() -> None:
    rules = parse_fault_spec(
        "keyvault:SetSecret=503@0.2, files:*=reset@0.05,*:*=429(0)@0.1,"
        "*:*=jitter@20,arm:GetWorkspace=latency@5,files:PutRange=500@1"
    )
    assert rules == [
        FaultRule("keyvault", "SetSecret", "503", 0.2),
        FaultRule("files", "*", "reset", 0.05),
        FaultRule("*", "*", "429", 0.1, retry_after=0.0),
        FaultRule("*", "*", "jitter", 20.0),
        FaultRule("arm", "GetWorkspace", "latency", 5.0),
        FaultRule("files", "PutRange", "500", 1.0),
    ]
    assert parse_fault_spec(None) == [] and parse_fault_spec("  ") == []


def test_bad_spec_lists_every_bad_item_on_its_own_line() -> None:
    with pytest.raises(UserInputError) as exc:
        parse_fault_spec(
            "keyvault:SetSecrets=503@0.2,blob:*=500@0.1,*:*=503@1.5,files:*=teapot@1,"
            "arm:*=latency(3)@1,nonsense"
        )
    lines = exc.value.lines()
    assert len(lines) == 6
    assert "unknown operation 'SetSecrets'" in lines[0]
    assert "unknown service 'blob'" in lines[1]
    assert "outside 0..1" in lines[2]
    assert "unknown effect 'teapot'" in lines[3]
    assert "only 429 takes" in lines[4]
    assert "expected SERVICE:OPERATION=EFFECT@VALUE" in lines[5]
    assert all(line.startswith("--faults: ") for line in lines)


def test_same_seed_gives_each_operation_the_same_faults() -> None:
    def sequence(seed: int, interleave: bool) -> list[str | None]:
        injector = FaultInjector("*:*=503@0.3", seed=seed)
        out = []
        for _ in range(50):
            if interleave:
                injector.decide("files", "PutRange")
            failure = injector.decide("keyvault", "GetSecret").failure
            out.append(failure.kind if failure else None)
        return out

    assert sequence(7, False) == sequence(7, True)
    assert sequence(7, False) != sequence(8, False)


def test_sdk_retries_through_20_percent_503_with_20ms_latency(clean_faults: Emulator) -> None:
    emu = clean_faults
    # The default RetryPolicy with more tries than its default 3: four 503s in a row (0.2**4 per
    # call) would otherwise fail one of 200 calls about one run in four.
    client = secret_client(emu, TENANT.key_vault, retry_total=6, retry_status=6)
    client.set_secret("warm-up", "x")  # the challenge round-trip, before the faults start
    emu.set_faults("keyvault:*=503@0.2")
    emu.set_latency(20)
    mark = len(emu.requests())
    start = time.monotonic()
    for i in range(100):
        name = f"fault-{i % 10}"
        assert client.set_secret(name, str(i)).value == str(i)
        assert client.get_secret(name).value == str(i)
    elapsed = time.monotonic() - start
    entries = log_since(emu, mark)
    injected = [e for e in entries if e.get("fault") == "503"]
    assert all(e["status"] == 503 for e in injected)
    assert 0.1 * len(entries) < len(injected) < 0.3 * len(entries)
    assert len(entries) - len(injected) == 200  # every call succeeded once
    assert elapsed >= len(entries) * 0.02  # the latency was there


def test_429_carries_retry_after_and_the_sdk_honours_it(clean_faults: Emulator) -> None:
    emu = clean_faults
    emu.set_faults("keyvault:GetSecrets=429(2)@1,keyvault:GetSecret=429(0)@0.5")
    url = emu.endpoints["keyvault"].format(vault=TENANT.key_vault) + "/secrets"
    raw = requests.get(
        url,
        params={"api-version": "7.6"},
        verify=str(emu.ca_cert),
        timeout=10,
        headers={"Authorization": f"Bearer {emu.endpoints['token']}"},
    )
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "2"
    assert raw.json()["error"]["code"] == "Throttled" and raw.headers["x-ms-request-id"]

    client = secret_client(emu, TENANT.key_vault, retry_total=8, retry_status=8)
    client.set_secret("throttled", "x")
    mark = len(emu.requests())
    for _ in range(10):
        assert client.get_secret("throttled").value == "x"
    entries = log_since(emu, mark)
    throttled = [e for e in entries if e.get("fault") == "429"]
    assert throttled and all(e["status"] == 429 for e in throttled)
    assert sum(e["status"] == 200 for e in entries) == 10


def test_files_throttling_is_503_server_busy(
    clean_faults: Emulator, account: str, account_key: str
) -> None:
    # Azure Storage throttles with 503 ServerBusy; its SDK retries that (and not 429).
    emu = clean_faults
    emu.set_faults("files:GetFileProperties=503@0.5")
    file = share_client(emu, account, account_key).get_file_client(unique("busy") + ".txt")
    file.upload_file(b"x")
    mark = len(emu.requests())
    for _ in range(5):
        assert file.get_file_properties().size == 1
    busy = [e for e in log_since(emu, mark) if e.get("fault") == "503"]
    assert busy and all(e["error"] == "ServerBusy" for e in busy)


def test_a_connection_reset_is_retried_by_the_sdk(clean_faults: Emulator) -> None:
    emu = clean_faults
    client = secret_client(emu, TENANT.key_vault, retry_total=8)
    client.set_secret("reset-me", "still here")
    emu.set_faults("keyvault:GetSecret=reset@0.5")
    mark = len(emu.requests())
    for _ in range(6):
        assert client.get_secret("reset-me").value == "still here"
    entries = [e for e in log_since(emu, mark) if e["op"] == "GetSecret"]
    resets = [e for e in entries if e.get("fault") == "reset"]
    assert resets and all(e["status"] == 0 for e in resets)
    assert sum(e["status"] == 200 for e in entries) == 6


def test_injected_500_without_retries_surfaces_in_the_service_error_shape(
    clean_faults: Emulator,
) -> None:
    emu = clean_faults
    emu.set_faults("arm:GetWorkspace=500@1")
    client = ml_client(emu, TENANT.subscription_id, retry_total=0)
    with pytest.raises(HttpResponseError) as exc:
        client.workspaces.get(TENANT.resource_group, TENANT.workspace)
    assert exc.value.status_code == 500
    assert exc.value.error is not None and exc.value.error.code == "InternalServerError"
