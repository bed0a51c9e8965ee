"""Offboarding a tenant (`state: absent`) against the emulator, through the official SDK clients."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from azure.core.rest import HttpRequest
from lifecycle_helpers import (
    FABRIKAM_VAULT,
    changing,
    folder_names,
    plan_items,
    read,
    share_of,
    tool,
    vault,
    writes_since,
)
from support.clients import ml_client

from provision.azure import Clients, load_endpoints_file
from provision.compute import _put_and_wait, compute_body
from provision.emulator import Emulator
from provision.errors import UserInputError
from provision.inventory.load import load_inventory
from provision.inventory.model import Tenant
from provision.tenant.record import digest_name
from provision.vault import MANAGED_BY
from provision.workspace import COMPUTE_API_VERSION, discover, workspace_path

# Only its coordinates (and the users whose compute instances it reports).
ABSENT_FABRIKAM = """\
  - name: fabrikam
    state: absent
    tenant_id: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
    subscription_id: 6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f
    resource_group: rg-fabrikam-sentinel
    ml_workspace: mlw-fabrikam
    key_vault: kv-fabrikam-nb
    users: [dave]
"""
COMPUTE = "fab-dave-ci"


def _offboard(fleet: Path) -> None:
    text = fleet.read_text(encoding="utf-8")
    start = text.index("  - name: fabrikam\n")
    fleet.write_text(text[:start] + ABSENT_FABRIKAM, encoding="utf-8")


def _fabrikam(fleet: Path) -> Tenant:
    return next(t for t in load_inventory(fleet).tenants if t.name == "fabrikam")


def _create_compute(emu: Emulator, fleet: Path) -> None:
    """An instance as create-compute makes it: our inline launcher pinned for dave."""
    emu.backend.arm.lro_seconds = 0
    t = _fabrikam(fleet)
    clients = Clients(0, load_endpoints_file(str(emu.endpoints_file)))
    try:
        location = discover(clients, t).location
        body = compute_body(
            location,
            "Standard_DS3_v2",
            "dave",
            tenant_id=t.tenant_id,
            object_id=t.tenant_id,
            script=b"x",
        )
        assert _put_and_wait(clients, t, COMPUTE, body) == "Succeeded"
    finally:
        clients.close()


def _compute_status(emu: Emulator, t: Tenant) -> int:
    ml = ml_client(emu, t.subscription_id)
    url = f"{workspace_path(t)}/computes/{COMPUTE}?api-version={COMPUTE_API_VERSION}"
    return int(ml._send_request(HttpRequest("GET", url)).status_code)


def test_absent_tenant_loses_its_secrets_and_files_and_a_second_apply_writes_nothing(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    t = _fabrikam(fleet)
    _create_compute(emu, fleet)
    share = share_of(emu, fleet, "fabrikam")
    share.get_file_client("Users/dave/hunt.ipynb").upload_file(b"{}")
    kv = vault(emu, FABRIKAM_VAULT)
    kv.set_secret("contoso-owned", "x", tags={"managed-by": MANAGED_BY, "tenant": "contoso"})
    # the record's digest stays: it vouches for the record an offboarded tenant keeps
    digest = digest_name("fabrikam")
    ours = {s.name for s in kv.list_properties_of_secrets()} - {"contoso-owned", digest}
    assert ours
    _offboard(fleet)

    items = plan_items(fleet, emu, "-t", "fabrikam")
    deletes = {i["target"] for i in items if i["action"] == "delete"}
    assert {f"{FABRIKAM_VAULT}/{n}" for n in ours} <= deletes
    assert "Users/dave/msticpyconfig.yaml" in deletes and "Users/erin/config.json" in deletes
    assert not any("hunt.ipynb" in d or "contoso-owned" in d for d in deletes)
    # Only the instance our launcher starts (not the one that merely has dave's compute name).
    [report] = [i for i in items if i["kind"] == "compute"]
    assert report["target"] == COMPUTE and report["action"] == "report"
    assert "--delete-computes" in report["detail"]

    res = tool("apply", fleet, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    assert {s.name for s in kv.list_properties_of_secrets()} == {"contoso-owned", digest}
    assert {s.name for s in kv.list_deleted_secrets()} == ours  # soft-deleted, recoverable
    assert folder_names(share, "Users/dave") == {"hunt.ipynb"}
    assert folder_names(share, "Users/erin") == set()
    assert read(share, "Users/dave/hunt.ipynb") == b"{}"
    assert _compute_status(emu, t) == 200  # kept without --delete-computes

    start = len(emu.requests())
    again = tool("apply", fleet, emu)
    assert again.returncode == 0, again.stdout + again.stderr
    assert writes_since(emu, start) == []
    assert changing(plan_items(fleet, emu)) == []

    gone = tool("apply", fleet, emu, "-t", "fabrikam", "--delete-computes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert _compute_status(emu, t) == 404


def test_compute_delete_is_a_long_running_operation_as_in_azure(fleet: Path, emu: Emulator) -> None:
    # azure-rest-api-specs, machinelearningservices stable/2024-04-01, Compute_Delete
    # (examples/Compute/delete.json): underlyingResourceAction (Delete or Detach) is required;
    # the answer is 202 with an Azure-AsyncOperation status URL.
    _create_compute(emu, fleet)
    emu.backend.arm.lro_seconds = 0.5
    t = _fabrikam(fleet)
    ml = ml_client(emu, t.subscription_id)
    url = f"{workspace_path(t)}/computes/{COMPUTE}?api-version={COMPUTE_API_VERSION}"
    refused = ml._send_request(HttpRequest("DELETE", url))
    assert refused.status_code == 400
    started = ml._send_request(HttpRequest("DELETE", url + "&underlyingResourceAction=Delete"))
    assert started.status_code == 202
    status_url = started.headers["Azure-AsyncOperation"]
    assert re.search(r"/computeOperationsStatus/", status_url)
    assert ml._send_request(HttpRequest("GET", status_url)).json()["status"] == "InProgress"
    time.sleep(0.6)
    assert ml._send_request(HttpRequest("GET", status_url)).json()["status"] == "Succeeded"
    assert _compute_status(emu, t) == 404


def test_a_compute_deleted_without_polling_is_gone_once_the_operation_has_had_its_time(
    fleet: Path, emu: Emulator
) -> None:
    # Azure runs a long-running operation whether or not the client polls it: `az ml compute
    # delete --no-wait` sends the DELETE and never reads the Azure-AsyncOperation URL, and the
    # instance still disappears. The emulator finishes operations by elapsed time.
    _create_compute(emu, fleet)
    emu.backend.arm.lro_seconds = 0.3
    t = _fabrikam(fleet)
    ml = ml_client(emu, t.subscription_id)
    url = f"{workspace_path(t)}/computes/{COMPUTE}?api-version={COMPUTE_API_VERSION}"
    assert (
        ml._send_request(
            HttpRequest("DELETE", url + "&underlyingResourceAction=Delete")
        ).status_code
        == 202
    )
    listing = f"{workspace_path(t)}/computes?api-version={COMPUTE_API_VERSION}"
    names = [c["name"] for c in ml._send_request(HttpRequest("GET", listing)).json()["value"]]
    assert COMPUTE in names  # still deleting
    time.sleep(0.4)
    names = [c["name"] for c in ml._send_request(HttpRequest("GET", listing)).json()["value"]]
    assert COMPUTE not in names
    assert _compute_status(emu, t) == 404


def test_only_an_absent_tenant_may_leave_out_its_settings(tmp_path: Path, fleet: Path) -> None:
    _offboard(fleet)
    assert _fabrikam(fleet).absent
    fleet.write_text(fleet.read_text().replace("    state: absent\n", ""), encoding="utf-8")
    with pytest.raises(UserInputError) as err:
        load_inventory(fleet)
    messages = [p.message for p in err.value.problems]
    assert any("sentinel" in p.path for p in err.value.problems if p.path), messages


def test_offboarding_recognises_the_tools_instances_by_their_tags(
    fleet: Path, emu: Emulator
) -> None:
    """ARM need not return an inline script's data verbatim; the tags create-compute sets are
    what ARM returns on every read (`managed-by`, `tenant`, `alias`)."""
    from provision.compute import compute_tags
    from provision.offboard import tool_computes

    emu.backend.arm.lro_seconds = 0
    t = _fabrikam(fleet)
    clients = Clients(0, load_endpoints_file(str(emu.endpoints_file)))
    try:
        location = discover(clients, t).location
        for name, tags in (
            ("fab-tagged-ci", compute_tags("fabrikam", "dave")),
            ("fab-other-ci", compute_tags("contoso", "dave")),  # another tenant's
        ):
            body = compute_body(
                location,
                "Standard_DS3_v2",
                "x",
                tenant_id=t.tenant_id,
                object_id=t.tenant_id,
                script=b"x",
            )
            body["properties"]["properties"].pop("setupScripts")  # no script data to read
            body["tags"] = tags
            assert _put_and_wait(clients, t, name, body) == "Succeeded"
        found = tool_computes(t, discover(clients, t), set())
    finally:
        clients.close()
    assert found == {"fab-tagged-ci": "dave"}
