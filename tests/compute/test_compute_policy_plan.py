"""plan compares each analyst's instance with the user's compute policy; apply changes what Azure
lets it change on an existing instance (the idle shutdown, through updateIdleShutdownSetting)
and only reports the rest: a VM size difference "needs re-creation" and is never acted on.

Azure facts (cited in provision/compute.py): idle shutdown of an existing instance changes with
POST .../computes/{name}/updateIdleShutdownSetting (Microsoft Learn, "Create a compute
instance", Configure idle shutdown; azure-rest-api-specs machinelearningservices 2024-04-01,
IdleShutdownSetting); "It isn't possible to change the virtual machine size of compute instance
once it's created" (same article).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from azure.core.rest import HttpRequest
from support import run_invoke
from support.clients import ml_client

from provision.emulator import Emulator
from provision.emulator.requestlog import is_write
from provision.inventory.load import load_inventory
from provision.workspace import workspace_path


def _tool(verb: str, fleet: Path, emu: Emulator, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_invoke(verb, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), *extra)


def _items(fleet: Path, emu: Emulator) -> list[dict[str, Any]]:
    res = _tool("plan", fleet, emu, "-t", "contoso", "--json")
    assert res.returncode in (0, 2), res.stdout + res.stderr
    return [i for t in json.loads(res.stdout)["tenants"] for i in t["items"]]


def test_a_hand_changed_idle_shutdown_is_planned_applied_once_and_size_only_reported(
    fleet: Path, emu: Emulator
) -> None:
    t = load_inventory(fleet).tenants[0]
    alice = t.user_list[0].compute_name
    ml = ml_client(emu, t.subscription_id)
    url = f"{workspace_path(t)}/computes/{alice}"

    def inner() -> dict[str, Any]:
        got = ml._send_request(HttpRequest("GET", f"{url}?api-version=2025-12-01")).json()
        return got["properties"]["properties"]  # type: ignore[no-any-return]

    first = _tool("apply", fleet, emu)
    assert first.returncode == 0, first.stdout + first.stderr
    assert inner()["idleTimeBeforeShutdown"] == "PT60M"  # defaults.compute_policy.idle_shutdown

    # someone changes it by hand (studio does the same call)
    post = HttpRequest(
        "POST",
        f"{url}/updateIdleShutdownSetting?api-version=2025-12-01",
        json={"idleTimeBeforeShutdown": "PT3H"},
    )
    assert ml._send_request(post).status_code == 200
    # and the instance is of another size than the policy's
    ws = emu.backend.arm.workspace(t.subscription_id, t.resource_group, t.ml_workspace)
    ws.computes[alice.lower()].vm_size = "Standard_E4ds_v4"

    items = {i["target"]: i for i in _items(fleet, emu)}
    idle = items[f"{alice}/idle_shutdown"]
    assert idle["action"] == "update"
    assert idle["policy"] == {
        "field": "idle_shutdown",
        "actual": "PT3H",
        "desired": "PT60M",
        "fix": "update",
    }
    size = items[f"{alice}/vm_size"]
    assert size["action"] == "report" and size["policy"]["fix"] == "recreate"
    assert "needs re-creation" in size["detail"] and "never re-creates" in size["detail"]
    schedules = items[f"{alice}/schedules"]  # the seeded instance has none; only re-creation adds
    assert schedules["action"] == "report" and "0 19 * * 1-5" in schedules["policy"]["desired"]

    start = len(emu.requests())
    applied = _tool("apply", fleet, emu, "-t", "contoso")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert inner()["idleTimeBeforeShutdown"] == "PT60M"
    assert inner()["vmSize"] == "Standard_E4ds_v4"  # never acted on
    ops = [r["op"] for r in emu.requests()[start:] if r["service"] == "arm" and is_write(r)]
    assert ops == ["UpdateIdleShutdownSetting"]

    start = len(emu.requests())
    again = _tool("apply", fleet, emu, "-t", "contoso")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r for r in emu.requests()[start:] if is_write(r)] == []
    after = {i["target"]: i for i in _items(fleet, emu)}
    assert f"{alice}/idle_shutdown" not in after
    assert after[f"{alice}/vm_size"]["action"] == "report"


def test_plan_reports_the_pinned_kernel_status_the_instance_left_on_the_share(
    fleet: Path, emu: Emulator
) -> None:
    """The startup script writes Users/<alias>/.msticpy-provision-kernel-status.json; every
    workspace user can write that folder, so plan shows it as a report and decides nothing."""
    from support.clients import share_client

    fleet.write_text(
        fleet.read_text().replace(
            "    sso: true\n",
            "    sso: true\n    kernel: {requirement: 'msticpy[azure]==3.0.2', wheelhouse: /w}\n",
        )
    )
    t = load_inventory(fleet).tenants[0]
    alice, bob = (u.compute_name for u in t.user_list[:2])
    ws = emu.backend.arm.workspace(t.subscription_id, t.resource_group, t.ml_workspace)
    share = share_client(emu, ws.storage_account)
    status = {
        "requirement": "msticpy[azure]==3.0.2",
        "kernel": "msticpy-contoso-3.0.2",
        "installed_version": "3.0.1",
        "result": "failed",
        "detail": "installing msticpy[azure]==3.0.2 failed: ERROR: No matching distribution",
        "when": "2026-12-06T05:00:00Z",
    }
    path = "Users/alice/.msticpy-provision-kernel-status.json"
    share.get_file_client(path).upload_file(json.dumps(status).encode())

    items = {i["target"]: i for i in _items(fleet, emu)}
    reported = items[f"{alice}/kernel"]
    assert reported["action"] == "report"
    assert "failed at 2026-12-06T05:00:00Z, msticpy 3.0.1 installed" in reported["detail"]
    assert "No matching distribution" in reported["detail"]
    assert "no status yet" in items[f"{bob}/kernel"]["detail"]
