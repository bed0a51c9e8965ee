"""create-compute: the instance is created through the 2024-04-01 API, assigned to the analyst,
with an inline launcher that runs the share's startup script only if its SHA-256 is pinned.

Azure facts relied on (Microsoft Learn, "Customize the compute instance with a script",
MicrosoftDocs/azure-ai-docs articles/machine-learning/how-to-customize-compute-instance.md):
setup scripts run as root; `scriptSource: workspaceStorage` names a file of the notebook share,
`scriptSource: inline` carries a base64 `scriptData`. The REST spec (azure-rest-api-specs,
machinelearningservices 2024-04-01, ScriptReference.scriptSource) names the share source
`workspace`; both are recognised.
"""

from __future__ import annotations

import base64
import hashlib
import json
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
FRANK_OID = "11111111-2222-4333-8444-555555555555"
CAROL = "      - {alias: carol.jones, compute: carol-hunting}\n"


def _fleet(tmp_path: Path, extra_user: str) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    inv = tmp_path / "fleet" / "inventory.yaml"
    inv.write_text(inv.read_text().replace(CAROL, CAROL + extra_user))
    return inv


def _compute(emu: Emulator, name: str) -> dict:  # type: ignore[type-arg]
    ml = ml_client(emu, SUB)
    url = f"{WS}/computes/{name}?api-version=2024-04-01"
    return ml._send_request(HttpRequest("GET", url)).json()  # type: ignore[no-any-return]


def _report(emu: Emulator, inv: Path, alias: str) -> str:
    """What plan reports for `alias`'s instance: compute_report on ARM's answer, read through
    the real ML client (the engine's compute item calls the same function)."""
    from provision.azure import Clients, load_endpoints_file
    from provision.compute import compute_report
    from provision.render import Renderer
    from provision.workspace import discover

    t = load_inventory(inv).tenants[0]
    user = next(u for u in t.user_list if u.alias == alias)
    clients = Clients(0, load_endpoints_file(str(emu.endpoints_file)))
    try:
        info = discover(clients, t).computes.get(user.compute_name)
    finally:
        clients.close()
    return compute_report(info, user, Renderer().render_tenant(t))


@pytest.mark.slow
def test_create_compute_assigns_the_analyst_and_pins_the_script(tmp_path: Path) -> None:
    inv = tmp_path / "fleet" / "inventory.yaml"
    with Emulator(tmp_path / "emu") as emu:
        shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))  # frank is not there yet
        inv.write_text(
            inv.read_text().replace(
                CAROL, CAROL + f"      - {{alias: frank, object_id: {FRANK_OID}}}\n"
            )
        )
        frank_ci = next(
            u.compute_name for u in load_inventory(inv).tenants[0].user_list if u.alias == "frank"
        )
        ep = str(emu.endpoints_file)
        early = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "frank", "--endpoints", ep
        )
        assert early.returncode == 1 and "run `invoke apply" in early.stderr
        assert (
            run_invoke("apply", "-i", str(inv), "-t", "contoso", "--endpoints", ep).returncode == 0
        )
        emu.backend.arm.lro_seconds = 2.5
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
        assert f"creating {frank_ci}: InProgress" in res.stderr  # progress while it waits
        assert f"compute instance {frank_ci} created for frank" in res.stdout
        # the analyst's one step: Azure leaves SSO off on an instance made for another user
        assert "frank signs in" in res.stdout and "Enable SSO" in res.stdout

        inner = _compute(emu, frank_ci)["properties"]["properties"]
        assert inner["vmSize"] == "Standard_DS11_v2"
        assert inner["personalComputeInstanceSettings"]["assignedUser"] == {
            "objectId": FRANK_OID,
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        }
        script = inner["setupScripts"]["scripts"]["startupScript"]
        # nothing a workspace user can rewrite runs as root: the boot script is inline (ARM only)
        assert script["scriptSource"] == "inline"
        launcher = base64.b64decode(script["scriptData"]).decode()
        pinned = hashlib.sha256(_rendered_startup(inv, "frank")).hexdigest()
        assert f"PINNED_SHA256={pinned}" in launcher  # the bytes apply put on the share
        assert len(launcher) < 4096  # a launcher, not the script: nothing on the share to hijack
        assert "startup script is ours: inline launcher pinned" in _report(emu, inv, "frank")
        plan = run_invoke("plan", "-i", str(inv), "-t", "contoso", "--endpoints", ep, "--json")
        items = json.loads(plan.stdout)["tenants"][0]["items"]
        (item,) = [i for i in items if i["kind"] == "compute" and i["target"] == frank_ci]
        assert item["detail"].startswith("startup script is ours: inline launcher pinned")

        again = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "frank", "--endpoints", ep
        )
        assert again.returncode == 0 and "already exists" in again.stdout
        unknown = run_invoke(
            "create-compute", "-i", str(inv), "-t", "contoso", "--user", "zed", "--endpoints", ep
        )
        assert unknown.returncode == 1 and "has no user 'zed'" in unknown.stderr


def _rendered_startup(inv: Path, alias: str) -> bytes:
    from provision.render import STARTUP_SCRIPT, Renderer

    t = load_inventory(inv).tenants[0]
    return Renderer().render_tenant(t).user_files[alias][STARTUP_SCRIPT].content


def test_create_compute_without_object_id_names_the_inventory_line(tmp_path: Path) -> None:
    inv = _fleet(tmp_path, "      - frank\n")
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
        res = run_invoke(
            "create-compute",
            "-i",
            str(inv),
            "-t",
            "contoso",
            "--user",
            "frank",
            "--endpoints",
            str(emu.endpoints_file),
        )
    line = inv.read_text().splitlines().index("      - frank") + 1
    assert res.returncode == 1
    assert f"{inv}:{line}: tenants[0].users[3]: create-compute needs object_id" in res.stderr
    assert "Traceback" not in res.stderr
    assert len([x for x in res.stderr.splitlines() if x.strip()]) == 1, res.stderr


def test_plan_recognises_share_scripts_of_both_source_names(tmp_path: Path) -> None:
    """`workspace` (REST spec) and `workspaceStorage` (docs) both run a rewritable share file."""
    inv = _fleet(tmp_path, "")
    inv.write_text(
        inv.read_text().replace(
            "      - alice\n", f"      - {{alias: alice, object_id: {FRANK_OID}}}\n"
        )
    )
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(inv)))
        users = load_inventory(inv).tenants[0].user_list
        ws = emu.backend.arm.workspace(SUB, "rg-contoso-soc", "mlw-contoso-hunting")
        for user, source in zip(users, ("workspace", "workspaceStorage"), strict=False):
            ws.computes[user.compute_name.lower()].setup_scripts = {
                "scripts": {
                    "startupScript": {
                        "scriptSource": source,
                        "scriptData": f"Users/{user.alias}/msticpy-provision-startup.sh",
                    }
                }
            }
        for user, source in zip(users, ("workspace", "workspaceStorage"), strict=False):
            detail = _report(emu, inv, user.alias)
            assert f"straight from the share ({source})" in detail, detail
            assert "get root at the next boot" in detail
        # create-compute will not take such an instance over: scripts are fixed at creation
        taken = run_invoke(
            "create-compute",
            "-i",
            str(inv),
            "-t",
            "contoso",
            "--user",
            "alice",
            "--endpoints",
            str(emu.endpoints_file),
        )
        assert taken.returncode == 1 and "already exists" in taken.stderr
        assert "straight from the share (workspace)" in taken.stderr
