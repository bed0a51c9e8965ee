"""The emulator keeps a compute instance's idle shutdown, start/stop schedules, SSO flag and tags,
validates them as Azure does, answers updateIdleShutdownSetting, and fails a create where the
workspace storage refuses Shared Key.

Sources: azure-rest-api-specs, machinelearningservices stable/2024-04-01 (IdleShutdownSetting:
"Time is defined in ISO8601 format. Minimum is 15 min, maximum is 3 days"; ComputeStartStopSchedule
and Cron: action Start|Stop, triggerType Cron|Recurrence, "The expression should follow NCronTab
format", "TimeZone should follow Windows time zone format", default UTC) and the ComputeInstance
properties of stable/2025-12-01 as azure-ai-ml 1.35 generates them (`idleTimeBeforeShutdown`,
`schedules`, `enableSSO`); Microsoft Learn, "Create a compute instance" (at most four schedules;
"the 'Allow storage account key access' option must be enabled for compute instance creation to
be successful").
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from emulator_helpers import TENANT, unique

from provision.emulator import Emulator
from provision.emulator.seed import storage_account_name

API = "2025-12-01"
RG_ID = f"/subscriptions/{TENANT.subscription_id}/resourceGroups/{TENANT.resource_group}"
WS_ID = f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/{TENANT.workspace}"


def _schedule(action: str, expression: str, zone: str | None = None) -> dict[str, Any]:
    cron: dict[str, Any] = {"expression": expression}
    if zone is not None:
        cron["timeZone"] = zone
    return {"action": action, "triggerType": "Cron", "cron": cron, "status": "Enabled"}


def _body(**inner: Any) -> dict[str, Any]:
    return {
        "location": "eastus",
        "tags": {"managed-by": "msticpy-provision"},
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {"vmSize": "Standard_DS3_v2", **inner},
        },
    }


def _send(ml: MachineLearningServicesMgmtClient, method: str, url: str, body: Any = None) -> Any:
    return ml._client.send_request(HttpRequest(method, url, json=body))


def _url(emu: Emulator, name: str, action: str = "") -> str:
    return f"{emu.endpoints['arm']}{WS_ID}/computes/{name}{action}?api-version={API}"


def _created(emu: Emulator, ml: MachineLearningServicesMgmtClient, **inner: Any) -> str:
    name = unique("ci-pol")
    emu.backend.arm.lro_seconds = 0
    try:
        assert _send(ml, "PUT", _url(emu, name), _body(**inner)).status_code == 201
    finally:
        emu.backend.arm.lro_seconds = 1.0
    return name


def test_idle_shutdown_schedules_and_tags_are_kept_and_read_back(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    name = _created(
        emu,
        ml,
        idleTimeBeforeShutdown="PT60M",
        schedules={
            "computeStartStop": [
                _schedule("Stop", "0 19 * * 1-5", "W. Europe Standard Time"),
                _schedule("Start", "30 7 * * Mon-Fri"),
            ]
        },
        enableSSO=False,
    )
    got = _send(ml, "GET", _url(emu, name)).json()
    inner = got["properties"]["properties"]
    assert inner["idleTimeBeforeShutdown"] == "PT60M"
    assert inner["enableSSO"] is False
    assert got["tags"] == {"managed-by": "msticpy-provision"}
    stop, start = inner["schedules"]["computeStartStop"]
    assert stop["cron"] == {"expression": "0 19 * * 1-5", "timeZone": "W. Europe Standard Time"}
    assert start["cron"]["timeZone"] == "UTC"  # Cron.timeZone defaults to UTC
    assert stop["id"] and stop["provisioningStatus"] == "Completed" and stop["action"] == "Stop"


@pytest.mark.parametrize(
    ("inner", "field"),
    [
        ({"idleTimeBeforeShutdown": "60"}, "idleTimeBeforeShutdown"),
        ({"idleTimeBeforeShutdown": "PT10M"}, "idleTimeBeforeShutdown"),
        ({"idleTimeBeforeShutdown": "P4D"}, "idleTimeBeforeShutdown"),
        ({"schedules": {"computeStartStop": [_schedule("Stop", "0 18 * *")]}}, "expression"),
        ({"schedules": {"computeStartStop": [_schedule("Stop", "0 24 * * *")]}}, "expression"),
        ({"schedules": {"computeStartStop": [_schedule("Stop", "0 18 * * 7")]}}, "expression"),
        (
            {"schedules": {"computeStartStop": [_schedule("Stop", "0 18 * * *", "Europe/Paris")]}},
            "timeZone",
        ),
        ({"schedules": {"computeStartStop": [_schedule("Pause", "0 18 * * *")]}}, "action"),
        (
            {
                "schedules": {
                    "computeStartStop": [_schedule("Stop", f"0 {h} * * *") for h in range(5)]
                }
            },
            "at most 4",
        ),
    ],
)
def test_policy_values_azure_refuses_are_a_validation_error(
    emu: Emulator, ml: MachineLearningServicesMgmtClient, inner: dict[str, Any], field: str
) -> None:
    name = unique("ci-bad")
    answer = _send(ml, "PUT", _url(emu, name), _body(**inner))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "ValidationError" and field in error["message"]
    assert _send(ml, "GET", _url(emu, name)).status_code == 404  # nothing was created


def test_update_idle_shutdown_setting_changes_only_the_idle_time(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    name = _created(emu, ml, idleTimeBeforeShutdown="PT60M")
    url = _url(emu, name, "/updateIdleShutdownSetting")
    assert _send(ml, "POST", url, {"idleTimeBeforeShutdown": "PT2H"}).status_code == 200
    inner = _send(ml, "GET", _url(emu, name)).json()["properties"]["properties"]
    assert inner["idleTimeBeforeShutdown"] == "PT2H" and inner["vmSize"] == "Standard_DS3_v2"
    refused = _send(ml, "POST", url, {"idleTimeBeforeShutdown": "PT5M"})
    assert refused.status_code == 400 and "idleTimeBeforeShutdown" in refused.text()
    assert _send(ml, "POST", url, {}).status_code == 400  # the setting is required
    missing = _send(ml, "POST", _url(emu, "ci-nobody", "/updateIdleShutdownSetting"), {})
    assert missing.status_code == 404


def test_a_create_where_storage_refuses_shared_key_fails_as_the_operation_ends(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    account = f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/{storage_account_name(TENANT)}"
    patch = f"{emu.endpoints['arm']}{account}?api-version=2023-05-01"
    _send(ml, "PATCH", patch, {"properties": {"allowSharedKeyAccess": False}})
    emu.backend.arm.lro_seconds = 0.2
    name = unique("ci-nokey")
    try:
        created = _send(ml, "PUT", _url(emu, name), _body())
        assert created.status_code == 201  # accepted: the failure comes while it is created
        time.sleep(0.3)
        status = _send(ml, "GET", created.headers["Azure-AsyncOperation"]).json()
        assert status["status"] == "Failed"
        assert status["error"]["code"] == "KeyBasedAuthenticationNotPermitted"
        inner = _send(ml, "GET", _url(emu, name)).json()["properties"]["properties"]
        assert inner["state"] == "CreateFailed"
    finally:
        emu.backend.arm.lro_seconds = 1.0
        _send(ml, "PATCH", patch, {"properties": {"allowSharedKeyAccess": True}})


def test_an_instance_made_for_another_user_starts_with_sso_off(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    # Microsoft Learn, "Create a compute instance", Create on behalf of; DESIGN.md (Compute
    # instances): only the assigned user can enable SSO.
    assigned = {"assignedUser": {"objectId": TENANT.tenant_id, "tenantId": TENANT.tenant_id}}
    name = _created(emu, ml, enableSSO=True, personalComputeInstanceSettings=assigned)
    inner = _send(ml, "GET", _url(emu, name)).json()["properties"]["properties"]
    assert inner["enableSSO"] is False
    own = _created(emu, ml)
    assert _send(ml, "GET", _url(emu, own)).json()["properties"]["properties"]["enableSSO"] is True
