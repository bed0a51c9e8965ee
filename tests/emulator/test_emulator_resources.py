"""ARM resources around a workspace: the cloud metadata document, storage accounts with
``allowSharedKeyAccess`` (and what Azure Files then accepts), Log Analytics workspaces seeded from
the inventory, the workspace's datastores, and region-wide compute names. Resources without an
SDK here go through ``send_request`` on the ML management client's pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.storage.fileshare import ShareClient
from emulator_helpers import TENANT, unique
from support.clients import fast_storage_retry

from provision.emulator import Emulator, SeedTenant, seed_tenants_from_inventory
from provision.emulator.seed import (
    NOTEBOOK_SHARE,
    SeedLogAnalytics,
    SeedPrincipal,
    storage_account_name,
)

TID = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
ST = SeedTenant(
    tenant_id=TID,
    subscription_id="7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    resource_group="rg-st",
    workspace="ws-st",
    key_vault="kv-st-team",
    users=[("dave", "ci-st-dave")],
    principals=[
        SeedPrincipal("plan-app", roles=[("Storage File Data Privileged Reader", "storage")]),
        SeedPrincipal("nobody-app"),
    ],
    log_analytics=[
        SeedLogAnalytics(
            "law-st",
            "0f1e2d3c-4b5a-4697-8877-665544332211",
            subscription_id="1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
            resource_group="rg-sentinel",
        )
    ],
)
ACCOUNT = storage_account_name(ST)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def st(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("resources")) as emulator:
        emulator.seed([ST, TENANT])
        yield emulator


def cred(emu: Emulator, client_id: str | None = None, tenant: str = TID) -> ClientSecretCredential:
    app = emu.endpoints["tenants"][tenant]
    return ClientSecretCredential(
        tenant,
        client_id or app["client_id"],
        app["client_secret"] if client_id is None else "any",
        authority=emu.endpoints["authority"],
        disable_instance_discovery=True,
        connection_verify=str(emu.ca_cert),
    )


def ml(emu: Emulator, sub: str = ST.subscription_id, tenant: str = TID) -> Any:
    return MachineLearningServicesMgmtClient(
        cred(emu, tenant=tenant),
        sub,
        base_url=emu.endpoints["arm"],
        connection_verify=str(emu.ca_cert),
        retry_backoff_factor=0.01,
    )


def call(emu: Emulator, method: str, path: str, api: str, **kwargs: Any) -> Any:
    url = f"{emu.endpoints['arm']}{path}?api-version={api}"
    return ml(emu)._client.send_request(HttpRequest(method, url, **kwargs))


def test_cloud_metadata_has_the_fields_clients_read(st: Emulator) -> None:
    # ARM's /metadata/endpoints?api-version=2022-09-01 is a list of clouds; azure-ai-ml's
    # _azure_environments._convert_arm_to_cli reads name, portal, resourceManager,
    # authentication.loginEndpoint and suffixes.storage (azure-cli also audiences, keyVaultDns).
    body = requests.get(st.endpoints["cloud_metadata"], verify=str(st.ca_cert), timeout=10).json()
    assert isinstance(body, list) and len(body) == 1
    cloud = body[0]
    assert cloud["resourceManager"] == st.endpoints["arm"] + "/"
    assert cloud["authentication"]["loginEndpoint"] == st.endpoints["authority"] + "/"
    assert "https://management.azure.com/" in cloud["authentication"]["audiences"]
    assert cloud["suffixes"]["keyVaultDns"] and cloud["suffixes"]["storage"]
    assert cloud["name"] and cloud["portal"].startswith("https://")


def _share(st: Emulator, credential: Any, **kwargs: Any) -> ShareClient:
    return ShareClient(
        account_url=st.endpoints["files"].format(account=ACCOUNT),
        share_name=NOTEBOOK_SHARE,
        credential=credential,
        connection_verify=str(st.ca_cert),
        retry_policy=fast_storage_retry(),
        **kwargs,
    )


def test_shared_key_off_refuses_keys_but_lists_them_and_tokens_need_roles(st: Emulator) -> None:
    path = (
        f"/subscriptions/{ST.subscription_id}/resourceGroups/{ST.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
    )
    got = call(st, "GET", path, "2023-05-01").json()
    assert got["properties"]["allowSharedKeyAccess"] is None  # not set: Azure allows keys
    patched = call(
        st, "PATCH", path, "2023-05-01", json={"properties": {"allowSharedKeyAccess": False}}
    )
    assert patched.status_code == 200
    assert patched.json()["properties"]["allowSharedKeyAccess"] is False
    keys = call(st, "POST", path + "/listKeys", "2023-05-01").json()["keys"]
    assert len(keys) == 2  # Azure keeps listing keys; only key-signed requests are refused

    with pytest.raises(HttpResponseError) as refused:
        _share(st, keys[0]["value"]).get_share_properties()
    # Azure: 403 KeyBasedAuthenticationNotPermitted, "Key based authentication is not permitted
    # on this storage account." (Azure/AI-Landing-Zones#64 shows the Files XML answer).
    assert refused.value.status_code == 403
    assert refused.value.error_code == "KeyBasedAuthenticationNotPermitted"
    assert "Key based authentication is not permitted" in str(refused.value)

    admin = _share(st, cred(st), token_intent="backup")
    name = unique("nokey") + ".txt"
    admin.get_file_client(name).upload_file(b"by token")
    reader = _share(st, cred(st, "plan-app"), token_intent="backup")
    assert reader.get_file_client(name).download_file().readall() == b"by token"
    with pytest.raises(HttpResponseError) as write:
        reader.get_file_client(unique("denied") + ".txt").upload_file(b"x")
    # Azure Storage: 403 AuthorizationPermissionMismatch, "This request is not authorized to
    # perform this operation using this permission." (Azure/azure-storage-net#1012).
    assert write.value.status_code == 403
    assert write.value.error_code == "AuthorizationPermissionMismatch"
    nobody = _share(st, cred(st, "nobody-app"), token_intent="backup")
    with pytest.raises(HttpResponseError) as read:
        nobody.get_file_client(name).download_file().readall()
    assert read.value.status_code == 403

    call(st, "PATCH", path, "2023-05-01", json={"properties": {"allowSharedKeyAccess": True}})
    assert _share(st, keys[0]["value"]).get_share_properties().name == NOTEBOOK_SHARE


def test_log_analytics_workspace_lives_in_its_own_subscription(st: Emulator) -> None:
    la = ST.log_analytics[0]
    path = (
        f"/subscriptions/{la.subscription_id}/resourceGroups/{la.resource_group}"
        f"/providers/Microsoft.OperationalInsights/workspaces/{la.name}"
    )
    got = call(st, "GET", path, "2022-10-01")
    assert got.status_code == 200
    assert got.json()["properties"]["customerId"] == la.customer_id
    assert got.json()["id"] == path
    missing = call(st, "GET", path.replace(la.name, "law-nope"), "2022-10-01")
    # ARM's answer for a missing resource in an existing group (ResourceNotFound).
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    assert "Microsoft.OperationalInsights/workspaces/law-nope" in missing.json()["error"]["message"]


def test_inventory_sentinel_workspaces_and_analysts_are_seeded(tmp_path: Path) -> None:
    from provision.inventory.load import load_inventory

    inventory = load_inventory(str(ROOT / "examples" / "inventory.yaml"))
    analyst = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
    first = inventory.tenants[0]
    first.users[0] = first.users[0].model_copy(update={"object_id": analyst})
    tenants = seed_tenants_from_inventory(inventory)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(tenants)
        for t, seeded in zip(inventory.tenants, tenants, strict=True):
            for ws in t.sentinel:
                sub = ws.subscription_id or t.subscription_id
                rg = ws.resource_group or t.resource_group
                res = emu.backend.arm.log_analytics_workspace(str(sub), rg, ws.workspace_name)
                assert res.properties["customerId"] == str(ws.workspace_id)
            assert seeded.log_analytics
        # An analyst with an object id can get a token of their own (client id = object id).
        token = emu.tenant_credential(first.tenant_id, client_id=analyst).get_token(
            "https://vault.azure.net/.default"
        )
        principal = emu.backend.identity.verify(token.token)
        assert principal is not None and principal.object_id == analyst


def test_working_directory_datastore_names_the_notebook_share(st: Emulator) -> None:
    path = (
        f"/subscriptions/{ST.subscription_id}/resourceGroups/{ST.resource_group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{ST.workspace}/datastores/"
        "workspaceworkingdirectory"
    )
    got = call(st, "GET", path, "2024-04-01").json()
    # mfe.json 2024-04-01: AzureFileDatastore with accountName and fileShareName.
    assert got["properties"]["datastoreType"] == "AzureFile"
    assert got["properties"]["fileShareName"] == NOTEBOOK_SHARE
    assert got["properties"]["accountName"] == ACCOUNT


def test_compute_names_are_unique_per_region_across_subscriptions(st: Emulator) -> None:
    # Azure ML: "Compute with this name already exists. Compute name needs to be unique across
    # all existing computes within an Azure region." (microsoft/MCW-ML-Ops#28).
    body = {
        "location": "eastus",
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {"vmSize": "STANDARD_DS3_V2"},
        },
    }
    path = (
        f"/subscriptions/{ST.subscription_id}/resourceGroups/{ST.resource_group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{ST.workspace}/computes/ci-alice"
    )
    clash = call(st, "PUT", path, "2024-04-01", json=body)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "Conflict"
    assert "unique across all existing computes within an Azure region" in clash.text()
    elsewhere = call(st, "PUT", path, "2024-04-01", json={**body, "location": "westeurope"})
    assert elsewhere.status_code == 201


def test_wrong_tenant_token_on_a_storage_account_resource(st: Emulator) -> None:
    other = ml(st, sub=ST.subscription_id, tenant=TENANT.tenant_id)
    with pytest.raises(ClientAuthenticationError) as exc:
        other.workspaces.get(ST.resource_group, ST.workspace)
    assert exc.value.error is not None
    assert exc.value.error.code == "InvalidAuthenticationTokenTenant"
