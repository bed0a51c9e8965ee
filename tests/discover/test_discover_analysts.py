"""`discover` on a hand-made estate: three analysts whose configs differ in one TI provider, a
folder without an instance, an instance without a folder, two ML workspaces in one
subscription, and three Log Analytics workspaces of which two have Microsoft Sentinel enabled.

Sentinel is told by the SecurityInsights onboarding state `default` (azure-rest-api-specs
Microsoft.SecurityInsights stable/2024-09-01, examples/onboardingStates/
GetAllSentinelOnboardingStates.json); the compute's user by its assignedUser (machinelearning-
services ComputeInstance `personalComputeInstanceSettings.assignedUser.objectId`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from support import run_invoke
from support.clients import ml_client, share_client

from provision.adopt.discover import FoundWorkspace, _choose
from provision.adopt.discover_combine import NO_PER_USER
from provision.emulator import Emulator
from provision.emulator.seed import (
    SeedLogAnalytics,
    SeedTenant,
    storage_account_name,
    user_object_id,
)
from provision.errors import UserInputError
from provision.inventory.load import load_inventory

TID = "5e1f0c2a-7b3d-4c8e-9f1a-2b3c4d5e6f70"
SUB = "0d9c8b7a-6f5e-4d3c-8b2a-1a0b9c8d7e6f"
LAW_ID = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
EXTRA_ID = "8b7c6d5e-4f3a-4b2c-9d0e-1f2a3b4c5d6e"
PLAIN_ID = "9c8d7e6f-5a4b-4c3d-8e1f-2a3b4c5d6e7f"
OTX_KEY = "DEMO-otx-key-typed-in-by-hand-7731"
SMALL = SeedTenant(
    tenant_id=TID,
    subscription_id=SUB,
    resource_group="rg-small",
    workspace="mlw-small",
    key_vault="kv-small-nb",
    users=[("alice", "alice-ci"), ("bob", "bob-ci"), ("carol", "carol-ci"), ("dave", "dave-ci")],
    user_folders=False,
    log_analytics=[
        SeedLogAnalytics("law-small", LAW_ID),
        SeedLogAnalytics("law-extra", EXTRA_ID, resource_group="rg-extra"),
        SeedLogAnalytics("law-plain", PLAIN_ID, sentinel=False),
    ],
)
OTHER = SeedTenant(
    tenant_id=TID, subscription_id=SUB, resource_group="rg-other", workspace="mlw-other"
)


def _config(providers: str) -> str:
    return f"""\
KeyVault:
  TenantId: {TID}
  SubscriptionId: {SUB}
  ResourceGroup: rg-small
  VaultName: kv-small-nb
AzureSentinel:
  Workspaces:
    Default:
      WorkspaceId: {LAW_ID}
      TenantId: {TID}
      WorkspaceName: law-small
      SubscriptionId: {SUB}
      ResourceGroup: rg-small
    Small:
      WorkspaceId: {LAW_ID}
      TenantId: {TID}
      WorkspaceName: law-small
      SubscriptionId: {SUB}
      ResourceGroup: rg-small
TIProviders:
  VirusTotal:
    Args:
      AuthKey:
        KeyVault: TIProviders-VirusTotal-Args-AuthKey
    Primary: true
    Provider: VirusTotal
{providers}"""


OTX = f"""\
  OTX:
    Args:
      AuthKey: {OTX_KEY}
    Primary: true
    Provider: OTX
"""
GREYNOISE = """\
  GreyNoise:
    Args:
      AuthKey:
        KeyVault: TIProviders-GreyNoise-Args-AuthKey
    Primary: true
    Provider: GreyNoise
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("discover-small") / "emu") as emu:
        emu.seed([SMALL, OTHER])
        share = share_client(emu, storage_account_name(SMALL))
        share.create_directory("Users")
        for alias, providers in (("alice", OTX), ("bob", OTX), ("carol", GREYNOISE)):
            share.create_directory(f"Users/{alias}")
            text = _config(providers).encode()
            share.get_file_client(f"Users/{alias}/msticpyconfig.yaml").upload_file(text)
        share.create_directory("Users/erin")  # a folder, no instance (dave: the reverse)
        yield emu


def _discover(emu: Emulator, *extra: str) -> tuple[int, str, str]:
    res = run_invoke(
        "discover", "-t", "small", "--tenant-id", TID, "--subscription-id", SUB,
        "--endpoints", str(emu.endpoints_file), *extra,
    )  # fmt: skip
    assert "Traceback" not in res.stderr
    return res.returncode, res.stdout, res.stderr


def test_shared_settings_become_the_tenant_and_the_difference_is_named(
    estate: Emulator, tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("version: 1\n# our fleet\ntenants: []\n", encoding="utf-8")
    code, out, err = _discover(
        estate, "-i", str(inventory), "--ml-workspace", "mlw-small", "--env-prefix", "SMALL"
    )
    assert code == 0, err
    text = inventory.read_text(encoding="utf-8")
    assert OTX_KEY not in out + err + text
    assert "# our fleet" in text
    t = load_inventory(inventory).select(["small"])[0]
    tip = t.ti_providers
    assert tip.VirusTotal is not None and tip.OTX is not None and tip.GreyNoise is None
    assert tip.VirusTotal.args.auth_key == "keyvault:TIProviders-VirusTotal-Args-AuthKey"
    assert tip.OTX.args.auth_key == "env:SMALL_TIPROVIDERS_OTX_ARGS_AUTHKEY"
    assert "SMALL_TIPROVIDERS_OTX_ARGS_AUTHKEY  (TIProviders.OTX.Args.AuthKey)" in err
    assert "settings from 2 of 3 analysts' configs: alice, bob" in err
    assert f"per-analyst differences ({NO_PER_USER}):" in err
    carol = [ln.strip() for ln in err.splitlines() if ln.strip().startswith("carol: ")]
    assert carol == [
        "carol: TIProviders.GreyNoise.Args.AuthKey: set only in their config",
        "carol: TIProviders.GreyNoise.Primary: set only in their config",
        "carol: TIProviders.GreyNoise.Provider: set only in their config",
        "carol: TIProviders.OTX.Args.AuthKey: not in their config",
        "carol: TIProviders.OTX.Primary: not in their config",
        "carol: TIProviders.OTX.Provider: not in their config",
    ]
    assert not [ln for ln in err.splitlines() if ln.strip().startswith(("alice:", "bob:"))]

    users = {u.alias: u for u in t.users}
    assert sorted(users) == ["alice", "bob", "carol", "erin"]
    assert users["alice"].compute == "alice-ci"
    assert users["alice"].object_id == user_object_id(TID, "alice")
    assert users["erin"].object_id is None
    assert "folder Users/erin has no compute instance" in err
    assert f"compute instance dave-ci ({user_object_id(TID, 'dave')}) has no user folder" in err

    by_name = {w.workspace_name: w for w in t.sentinel}
    assert sorted(by_name) == ["law-extra", "law-small"]  # law-plain has no Sentinel
    assert t.default_workspace.workspace_name == "law-small"
    assert by_name["law-extra"].resource_group == "rg-extra"
    assert "Sentinel workspace law-extra is in no analyst's config: added" in err


def test_plaintext_without_a_destination_is_refused_and_nothing_is_written(
    estate: Emulator, tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("version: 1\ntenants: []\n", encoding="utf-8")
    code, out, err = _discover(estate, "-i", str(inventory), "--resource-group", "rg-small")
    assert code == 1
    assert OTX_KEY not in out + err
    assert err.strip().splitlines() == [
        "error: discovered configs: TIProviders.OTX.Args.AuthKey: holds a secret in plain text; "
        "give --secrets-dir DIR (one 0600 file each) or --env-prefix PREFIX (environment "
        "variables)"
    ]
    assert inventory.read_text(encoding="utf-8") == "version: 1\ntenants: []\n"


def test_several_workspaces_are_listed_and_one_is_picked_by_name(estate: Emulator) -> None:
    code, _, err = _discover(estate, "--env-prefix", "SMALL")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("error: 2 Azure ML workspaces found, pick one with --ml-workspace: ")
    assert "mlw-other (subscription" in line and "mlw-small (subscription" in line

    code, out, err = _discover(estate, "--env-prefix", "SMALL", "--ml-workspace", "MLW-SMALL")
    assert code == 0, err
    assert "ml_workspace: mlw-small" in out

    code, _, err = _discover(estate, "--ml-workspace", "mlw-none")
    assert code == 1
    assert err.strip() == f"error: no Azure ML workspace named 'mlw-none' in subscription(s) {SUB}"


# --- the emulator answers in the REST specs' shapes ---------------------------------------------
# Microsoft.OperationalInsights stable/2022-10-01 Workspaces.json: Workspaces_List and
# Workspaces_ListByResourceGroup answer {"value": [workspace]} with properties.customerId.
# Microsoft.SecurityInsights stable/2024-09-01 OnboardingStates.json (examples/onboardingStates/
# GetAllSentinelOnboardingStates.json, GetSentinelOnboardingState.json): the state "default" of
# type Microsoft.SecurityInsights/onboardingStates with properties.customerManagedKey.
LA = "/providers/Microsoft.OperationalInsights/workspaces"


def _get(emu: Emulator, path: str, api: str) -> dict[str, object]:
    resp = ml_client(emu, SUB)._send_request(HttpRequest("GET", f"{path}?api-version={api}"))
    resp.raise_for_status()
    body: dict[str, object] = resp.json()
    return body


def test_log_analytics_workspaces_are_listed_by_subscription_and_by_group(
    estate: Emulator,
) -> None:
    every = _get(estate, f"/subscriptions/{SUB}{LA}", "2022-10-01")["value"]
    assert isinstance(every, list)
    assert sorted((w["name"], w["properties"]["customerId"]) for w in every) == [
        ("law-extra", EXTRA_ID),
        ("law-plain", PLAIN_ID),
        ("law-small", LAW_ID),
    ]
    assert {w["type"] for w in every} == {"Microsoft.OperationalInsights/workspaces"}
    extra = next(w for w in every if w["name"] == "law-extra")
    assert extra["id"] == f"/subscriptions/{SUB}/resourceGroups/rg-extra{LA}/law-extra"
    group = _get(estate, f"/subscriptions/{SUB}/resourceGroups/rg-extra{LA}", "2022-10-01")
    assert [w["name"] for w in group["value"]] == ["law-extra"]  # type: ignore[union-attr]


def test_the_sentinel_onboarding_state_marks_the_enabled_workspaces(estate: Emulator) -> None:
    states = "/providers/Microsoft.SecurityInsights/onboardingStates"
    small = f"/subscriptions/{SUB}/resourceGroups/rg-small{LA}/law-small"
    plain = f"/subscriptions/{SUB}/resourceGroups/rg-small{LA}/law-plain"
    listed = _get(estate, small + states, "2024-09-01")
    assert listed == {
        "value": [
            {
                "id": f"{small}{states}/default",
                "name": "default",
                "type": "Microsoft.SecurityInsights/onboardingStates",
                "properties": {"customerManagedKey": False},
            }
        ]
    }
    assert _get(estate, small + states + "/default", "2024-09-01") == listed["value"][0]  # type: ignore[index]
    assert _get(estate, plain + states, "2024-09-01") == {"value": []}
    with pytest.raises(HttpResponseError) as info:
        _get(estate, plain + states + "/default", "2024-09-01")
    assert info.value.status_code == 404


def test_the_same_workspace_name_in_two_groups_asks_for_the_group() -> None:
    found = [FoundWorkspace(SUB, "rg-a", "mlw-x"), FoundWorkspace(SUB, "rg-b", "mlw-x")]
    with pytest.raises(UserInputError) as info:
        _choose(found, "mlw-x", [SUB])
    assert info.value.lines() == [
        "2 Azure ML workspaces found, pick one with --resource-group or one "
        f"--subscription-id: mlw-x (subscription {SUB}, group rg-a); mlw-x (subscription {SUB}, "
        "group rg-b)"
    ]
