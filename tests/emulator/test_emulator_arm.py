"""ARM for Microsoft.MachineLearningServices through the official MachineLearningServicesMgmtClient
(api-version 2020-08-01) and its pipeline for the 2024-04-01 compute PUT with setupScripts."""

from __future__ import annotations

import json
import time

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from emulator_helpers import TENANT, unique
from support.clients import ml_client

from provision.emulator import Emulator, EmulatorCredential
from provision.emulator.seed import (
    NOTEBOOK_SHARE,
    storage_account_name,
    user_object_id,
    workspace_vault_name,
)

RG_ID = f"/subscriptions/{TENANT.subscription_id}/resourceGroups/{TENANT.resource_group}"
WS_ID = f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/{TENANT.workspace}"


def test_workspace_get_names_its_storage_and_vault(ml: MachineLearningServicesMgmtClient) -> None:
    ws = ml.workspaces.get(TENANT.resource_group, TENANT.workspace)
    assert ws.id == WS_ID and ws.location == "eastus"
    assert ws.storage_account == (
        f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/{storage_account_name(TENANT)}"
    )
    assert ws.key_vault == (
        f"{RG_ID}/providers/Microsoft.KeyVault/vaults/{workspace_vault_name(TENANT)}"
    )
    assert ws.application_insights and ws.container_registry and ws.discovery_url
    assert ws.workspace_id and ws.provisioning_state == "Succeeded"
    names = [w.name for w in ml.workspaces.list_by_resource_group(TENANT.resource_group)]
    assert names == [TENANT.workspace]


def test_list_keys_gives_the_storage_key(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    keys = ml.workspaces.list_keys(TENANT.resource_group, TENANT.workspace)
    account = storage_account_name(TENANT)
    assert keys.user_storage_key == emu.endpoints["storage_keys"][account]
    assert keys.user_storage_resource_id.endswith(f"/storageAccounts/{account}")


def test_computes_list_and_get(ml: MachineLearningServicesMgmtClient) -> None:
    computes = list(
        ml.machine_learning_compute.list_by_workspace(TENANT.resource_group, TENANT.workspace)
    )
    assert {c.name for c in computes} >= {"ci-alice", "ci-bob"}
    alice = ml.machine_learning_compute.get(TENANT.resource_group, TENANT.workspace, "ci-alice")
    props = alice.properties
    assert props.compute_type == "ComputeInstance" and props.provisioning_state == "Succeeded"
    assert props.properties.state == "Running"
    user = props.properties.personal_compute_instance_settings.assigned_user
    assert user.object_id == user_object_id(TENANT.tenant_id, "alice")
    assert user.tenant_id == TENANT.tenant_id
    with pytest.raises(ResourceNotFoundError) as exc:
        ml.machine_learning_compute.get(TENANT.resource_group, TENANT.workspace, "ci-nobody")
    assert exc.value.error is not None and exc.value.error.code == "ResourceNotFound"


def test_missing_workspace_and_resource_group(ml: MachineLearningServicesMgmtClient) -> None:
    with pytest.raises(ResourceNotFoundError) as ws:
        ml.workspaces.get(TENANT.resource_group, "ws-nope")
    assert ws.value.error is not None and ws.value.error.code == "ResourceNotFound"
    assert "Microsoft.MachineLearningServices/workspaces/ws-nope" in str(ws.value.error.message)
    with pytest.raises(ResourceNotFoundError) as rg:
        ml.workspaces.get("rg-nope", TENANT.workspace)
    assert rg.value.error is not None and rg.value.error.code == "ResourceGroupNotFound"
    assert rg.value.response.headers["x-ms-request-id"]


def test_compute_put_with_setup_scripts_is_a_long_running_operation(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    name = unique("ci-carol")
    url = f"{emu.endpoints['arm']}{WS_ID}/computes/{name}?api-version=2024-04-01"
    script = {
        "scriptSource": "workspaceStorage",
        "scriptData": "Users/carol/msticpy-provision/startup.sh",
        "scriptArguments": "",
        "timeout": "5m",
    }
    body = {
        "location": "eastus",
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {
                "vmSize": "Standard_DS3_v2",
                "personalComputeInstanceSettings": {
                    "assignedUser": {
                        "objectId": user_object_id(TENANT.tenant_id, "carol"),
                        "tenantId": TENANT.tenant_id,
                    }
                },
                "setupScripts": {"scripts": {"startupScript": script}},
            },
        },
    }
    created = ml._client.send_request(HttpRequest("PUT", url, json=body))
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Creating"
    status_url = created.headers["Azure-AsyncOperation"]
    assert created.headers["x-ms-request-id"]

    first = ml._client.send_request(HttpRequest("GET", status_url))
    assert first.json()["status"] == "InProgress"
    during = ml.machine_learning_compute.get(TENANT.resource_group, TENANT.workspace, name)
    assert during.properties.provisioning_state == "Creating"
    time.sleep(emu.backend.arm.lro_seconds)  # operations end by elapsed time, as in Azure
    second = ml._client.send_request(HttpRequest("GET", status_url))
    assert second.json()["status"] == "Succeeded"

    final = ml._client.send_request(HttpRequest("GET", url)).json()
    assert final["properties"]["provisioningState"] == "Succeeded"
    assert final["properties"]["properties"]["state"] == "Running"
    assert final["properties"]["properties"]["setupScripts"]["scripts"]["startupScript"] == script
    sdk_view = ml.machine_learning_compute.get(TENANT.resource_group, TENANT.workspace, name)
    assert sdk_view.properties.properties.state == "Running"
    ops = [e["op"] for e in emu.requests() if e["service"] == "arm"]
    assert "CreateOrUpdateCompute" in ops and "GetAsyncOperation" in ops


def test_compute_put_is_polled_to_completion_by_arm_polling(emu: Emulator) -> None:
    from azure.core.polling import LROPoller
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    client = ml_client(emu, TENANT.subscription_id)
    name = unique("ci-dave")
    url = f"{emu.endpoints['arm']}{WS_ID}/computes/{name}?api-version=2024-04-01"
    body = {
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {
                "setupScripts": {
                    "scripts": {
                        "startupScript": {"scriptSource": "inline", "scriptData": "echo hi"}
                    }
                }
            },
        }
    }
    emu.backend.arm.lro_retry_after = 0
    try:
        pipeline_response = client._client._pipeline.run(HttpRequest("PUT", url, json=body))
        poller = LROPoller(
            client._client,
            pipeline_response,
            lambda r: json.loads(r.http_response.text()),
            ARMPolling(0),
        )
        result = poller.result(timeout=30)
    finally:
        emu.backend.arm.lro_retry_after = 1
    assert result["properties"]["provisioningState"] == "Succeeded"


def test_invalid_setup_scripts_are_rejected(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    url = f"{emu.endpoints['arm']}{WS_ID}/computes/{unique('ci-bad')}?api-version=2024-04-01"
    body = {
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {
                "setupScripts": {
                    "scripts": {"startupScript": {"scriptSource": "ftp", "scriptData": "x"}}
                }
            },
        }
    }
    response = ml._client.send_request(HttpRequest("PUT", url, json=body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"


def test_denied_scope_is_authorization_failed(clean_faults: Emulator) -> None:
    emu = clean_faults
    client = ml_client(emu, TENANT.subscription_id)
    emu.deny(WS_ID)
    with pytest.raises(HttpResponseError) as exc:
        client.workspaces.list_keys(TENANT.resource_group, TENANT.workspace)
    assert exc.value.status_code == 403
    assert exc.value.error is not None and exc.value.error.code == "AuthorizationFailed"
    assert "listKeys/action" in str(exc.value.error.message)
    emu.allow_all()
    assert client.workspaces.get(TENANT.resource_group, TENANT.workspace).name == TENANT.workspace


def test_arm_needs_a_valid_bearer_token(emu: Emulator) -> None:
    client = ml_client(emu, TENANT.subscription_id, EmulatorCredential("forged"))
    with pytest.raises(ClientAuthenticationError) as exc:
        client.workspaces.get(TENANT.resource_group, TENANT.workspace)
    assert exc.value.status_code == 401


def test_storage_account_and_vault_point_at_the_emulator(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    account = storage_account_name(TENANT)
    base = emu.endpoints["arm"] + RG_ID
    storage = ml._client.send_request(
        HttpRequest(
            "GET",
            f"{base}/providers/Microsoft.Storage/storageAccounts/{account}?api-version=2023-01-01",
        )
    ).json()
    assert storage["properties"]["primaryEndpoints"]["file"] == (
        emu.endpoints["files"].format(account=account) + "/"
    )
    vault = ml._client.send_request(
        HttpRequest(
            "GET",
            f"{base}/providers/Microsoft.KeyVault/vaults/{TENANT.key_vault}?api-version=2023-07-01",
        )
    ).json()
    assert vault["properties"]["vaultUri"] == (
        emu.endpoints["keyvault"].format(vault=TENANT.key_vault) + "/"
    )
    assert NOTEBOOK_SHARE in {s.name for s in emu.backend.files.list_shares(account)}
