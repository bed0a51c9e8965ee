"""The emulator's throttling model on the wire, and the tool absorbing it.

What Azure sends when a limit is reached (each checked, not assumed):
- ARM: 429, ``Retry-After`` in seconds, code SubscriptionRequestsThrottled, and the
  ``x-ms-ratelimit-remaining-subscription-reads`` header on reads (MicrosoftDocs/azure-docs,
  articles/azure-resource-manager/management/request-limits-and-throttling.md, "Error code" and
  "Remaining requests"; the code in MicrosoftDocs/azure-docs#105248);
- Key Vault: 429 ``{"error": {"code": "Throttled", ...}}`` and no Retry-After
  (vcsjones/AzureSignTool#219 quotes the whole answer; articles/key-vault/general/
  overview-throttling.md: a refused request does not count against the limit).
azure-core's RetryPolicy (Azure/azure-sdk-for-python, sdk/core/azure-core/azure/core/pipeline/
policies/_retry.py) retries 429, sleeping Retry-After when sent, and counts every retry against
``retry_total`` and ``retry_status``; the tool's policy gives 429 a budget of its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import RetryPolicy
from support.clients import ml_client, secret_client

from provision.azure import (
    RETRY_THROTTLED,
    Clients,
    load_endpoints_file,
    throttle_aware_retry_policy,
)
from provision.commands.apply import run as apply_command
from provision.commands.common import RunOptions
from provision.commands.verify import run as verify_command
from provision.devtools.bench_throttle import absorbed, one_subscription_fleet, throttled_apply
from provision.devtools.fleet import write_fleet
from provision.emulator import Emulator
from provision.emulator.seed import seed_tenants_from_inventory
from provision.inventory.load import load_inventory

# Scaled-down buckets that a 10-workspace fleet in one subscription empties at once: its first
# reads (workspace, datastore, computes, Log Analytics) start together, 4 per tenant in flight.
SMALL_BUCKETS = "arm-reads=10/10,storage-rp-reads=3/2,keyvault=5/5,keyvault-create=2/2"


@pytest.fixture
def one_tenant(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    fleet = write_fleet(tmp_path / "inv", 1, users=1, secrets=1)
    yield fleet.path, load_inventory(fleet.path).tenants[0]


@contextlib.contextmanager
def _throttled(tmp_path: Path, inventory: Path, spec: str) -> Iterator[Emulator]:
    """An emulator seeded with the inventory, throttling by `spec`; stopped afterwards."""
    emu = Emulator(tmp_path / "emu", throttle=spec)
    emu.start(seed_tenants_from_inventory(load_inventory(inventory)))
    try:
        yield emu
    finally:
        emu.stop()


def _arm_url(emu: Emulator, t: Any) -> str:
    return (
        f"{emu.endpoints['arm']}/subscriptions/{t.subscription_id}/resourceGroups/"
        f"{t.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/"
        f"{t.ml_workspace}?api-version=2020-08-01"
    )


def test_arm_answers_a_throttled_read_as_azure_does(
    tmp_path: Path, one_tenant: tuple[Path, Any]
) -> None:
    inventory, t = one_tenant
    with _throttled(tmp_path, inventory, "arm-reads=2/0.5") as emu:
        headers = {"Authorization": f"Bearer {emu.backend.token}"}
        first, second, third = (
            requests.get(_arm_url(emu, t), headers=headers, verify=str(emu.ca_cert))
            for _ in range(3)
        )
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.headers["x-ms-ratelimit-remaining-subscription-reads"] == "1"
        assert second.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
        assert third.status_code == 429
        assert third.headers["Retry-After"] == "2"
        assert third.json()["error"]["code"] == "SubscriptionRequestsThrottled"
        logged = [r for r in emu.requests() if r["op"] == "GetWorkspace"]
        assert [(r["status"], r.get("fault")) for r in logged] == [
            (200, None),
            (200, None),
            (429, "throttle"),
        ]


def test_key_vault_answers_a_throttled_request_without_retry_after(
    tmp_path: Path, one_tenant: tuple[Path, Any]
) -> None:
    inventory, t = one_tenant
    with _throttled(tmp_path, inventory, "keyvault=1/0.1") as emu:
        url = emu.endpoints["keyvault"].format(vault=t.key_vault) + "/secrets?api-version=7.4"
        headers = {"Authorization": f"Bearer {emu.backend.token}"}
        answers = [requests.get(url, headers=headers, verify=str(emu.ca_cert)) for _ in range(2)]
        assert answers[0].status_code == 200
        assert answers[1].status_code == 429
        assert answers[1].json()["error"]["code"] == "Throttled"
        assert "Retry-After" not in answers[1].headers


def test_tool_client_waits_retry_after_and_succeeds(
    tmp_path: Path, one_tenant: tuple[Path, Any]
) -> None:
    inventory, t = one_tenant
    with _throttled(tmp_path, inventory, "arm-reads=1/1") as emu:
        clients = Clients(0, load_endpoints_file(emu.endpoints_file))
        try:
            ml = clients.ml(t)
            ml.workspaces.get(t.resource_group, t.ml_workspace)
            started = time.monotonic()
            ml.workspaces.get(t.resource_group, t.ml_workspace)
            waited = time.monotonic() - started
        finally:
            clients.close()
        tries = [r for r in emu.requests() if r["op"] == "GetWorkspace"]
    assert [r["status"] for r in tries][-2:] == [429, 200]
    assert waited >= 0.9, f"answered after {waited:.2f} s: Retry-After: 1 not honoured"


def _tries_until_given_up(emu: Emulator, t: Any, policy: Any) -> int:
    mark = len(emu.requests())
    client = ml_client(emu, t.subscription_id, retry_policy=policy)
    with pytest.raises(HttpResponseError) as info:
        client.workspaces.get(t.resource_group, t.ml_workspace)
    assert info.value.status_code == 429
    return len([r for r in emu.requests()[mark:] if r["op"] == "GetWorkspace"])


def test_throttled_answers_draw_on_their_own_retry_budget(
    tmp_path: Path, one_tenant: tuple[Path, Any]
) -> None:
    inventory, t = one_tenant
    fast = {"retry_total": 2, "retry_status": 2, "retry_backoff_factor": 0.001}
    fast["retry_backoff_max"] = 0.001
    with _throttled(tmp_path, inventory, "azure") as emu:
        emu.set_faults("arm:GetWorkspace=429(0)@1.0")  # throttled forever, Retry-After: 0
        plain = _tries_until_given_up(emu, t, RetryPolicy(**fast))
        ours = _tries_until_given_up(emu, t, throttle_aware_retry_policy(**fast))
    assert plain == 3  # azure-core: the first try and retry_total retries
    assert ours == plain + RETRY_THROTTLED


def test_a_throttled_patch_without_retry_after_is_retried(
    tmp_path: Path, one_tenant: tuple[Path, Any]
) -> None:
    """Key Vault's 429 has no Retry-After, and azure-core retries a PATCH (or POST) only with
    one (`_is_method_retryable`: the allow-list has neither): the tool's policy retries it."""
    inventory, t = one_tenant
    fast = {"retry_backoff_factor": 0.05}
    with _throttled(tmp_path, inventory, "keyvault=1/4") as emu:
        plain = secret_client(emu, t.key_vault, retry_policy=RetryPolicy(**fast))
        ours = secret_client(emu, t.key_vault, retry_policy=throttle_aware_retry_policy(**fast))
        plain.set_secret("probe", "v")  # SetSecret: the create bucket, not this one
        plain.update_secret_properties("probe", tags={"n": "1"})  # the bucket's one token
        with pytest.raises(HttpResponseError) as info:
            plain.update_secret_properties("probe", tags={"n": "2"})
        assert info.value.status_code == 429
        assert ours.update_secret_properties("probe", tags={"n": "3"}).tags == {"n": "3"}
        patches = [r["status"] for r in emu.requests() if r["op"] == "UpdateSecret"]
    assert patches[:2] == [200, 429]  # plain: one try, no retry
    assert patches[2] == 429 and patches[-1] == 200, patches  # ours: retried until admitted


@pytest.mark.slow
def test_one_subscription_fleet_absorbs_throttling_with_no_failed_tenant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = one_subscription_fleet(tmp_path / "inv", 10, users=1, secrets=2)
    assert len({t.subscription_id for t in load_inventory(inventory).tenants}) == 1
    with _throttled(tmp_path, inventory, SMALL_BUCKETS) as emu:
        opts = RunOptions(inventory=str(inventory), endpoints=str(emu.endpoints_file))
        code = apply_command(opts)
        out = capsys.readouterr().out
        figures = absorbed(emu.requests())
        assert code == 0, out[-3000:]
        assert figures["throttled"].get("arm", 0) > 0, figures
        assert figures["throttled"].get("keyvault", 0) > 0, figures
        assert verify_command(opts) == 0, capsys.readouterr().out[-3000:]


def test_one_subscription_fleet_is_valid_and_keeps_each_workspace_apart(tmp_path: Path) -> None:
    tenants = load_inventory(one_subscription_fleet(tmp_path / "inv", 4, 1, 1)).tenants
    assert len({(t.tenant_id, t.subscription_id) for t in tenants}) == 1
    for field in ("resource_group", "ml_workspace", "key_vault", "name"):
        assert len({getattr(t, field) for t in tenants}) == 4, field


@pytest.mark.slow
def test_bench_row_of_a_throttled_fleet_counts_429s_per_service(tmp_path: Path) -> None:
    """The benchmark's row: an `invoke apply` process against an emulator process started with
    --throttle; the storage resource provider's refusals are told apart from ARM's."""
    inventory = one_subscription_fleet(tmp_path / "inv", 3, users=1, secrets=1)
    spec = "arm-reads=6/3,storage-rp-reads=1/0.5,keyvault=2/4"
    row = throttled_apply(inventory, tmp_path / "emu", spec, latency_ms=0, concurrency=8)
    assert (row["exit_code"], row["tenants"], row["failed_tenants"]) == (0, 3, 0)
    assert set(row["throttled"]) == {"arm", "storage-rp", "keyvault"}, row
    assert row["retried"] >= sum(row["throttled"].values()) > 0
