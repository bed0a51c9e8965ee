"""create-compute: the instance is created through the 2024-04-01 API with our startup script."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from azure.core.rest import HttpRequest
from support import EXAMPLE, run_invoke
from support.clients import ml_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory

SUB = "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"
WS = (
    f"/subscriptions/{SUB}/resourceGroups/rg-contoso-soc/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-contoso-hunting"
)


@pytest.mark.slow
def test_create_compute_sets_our_startup_script(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))  # frank is not there yet
        inv.write_text(
            inv.read_text().replace(
                "      - {alias: carol.jones, compute: carol-hunting}\n",
                "      - {alias: carol.jones, compute: carol-hunting}\n"
                "      - {alias: frank, object_id: 11111111-2222-4333-8444-555555555555}\n",
            )
        )
        ep = str(emu.endpoints_file)
        early = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "frank", "--endpoints", ep
        )
        assert early.returncode == 1 and "run `invoke apply" in early.stderr
        assert (
            run_invoke("apply", "-i", str(inv), "-t", "contoso", "--endpoints", ep).returncode == 0
        )
        emu.backend.arm.lro_polls = 2
        res = run_invoke(
            "create-compute",
            "-i",
            str(inv),
            "-t",
            "contoso",
            "--user",
            "frank",
            "--size",
            "Standard_DS11_v2",
            "--endpoints",
            ep,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert "creating frank-ci: InProgress" in res.stderr  # progress while it waits
        assert "compute instance frank-ci created" in res.stdout
        ml = ml_client(emu, SUB)
        got = ml._send_request(
            HttpRequest("GET", f"{WS}/computes/frank-ci?api-version=2024-04-01")
        ).json()
        inner = got["properties"]["properties"]
        script = inner["setupScripts"]["scripts"]["startupScript"]
        assert script["scriptSource"] == "workspaceStorage"
        assert script["scriptData"] == "Users/frank/msticpy-provision-startup.sh"
        assert inner["vmSize"] == "Standard_DS11_v2"
        assert inner["personalComputeInstanceSettings"]["assignedUser"]["objectId"] == (
            "11111111-2222-4333-8444-555555555555"
        )
        plan = run_invoke("plan", "-i", str(inv), "-t", "contoso", "--endpoints", ep, "--json")
        assert "startup script is ours" in plan.stdout
        again = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "frank", "--endpoints", ep
        )
        assert again.returncode == 0 and "already exists with our startup script" in again.stdout
        taken = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "alice", "--endpoints", ep
        )
        assert taken.returncode == 1 and "already exists" in taken.stderr
        unknown = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "zed", "--endpoints", ep
        )
        assert unknown.returncode == 1 and "has no user 'zed'" in unknown.stderr
