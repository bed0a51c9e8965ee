"""`discover` on the example fleet, onboarded on the emulator: each tenant, found from its own
subscription only, by an identity with only Reader and Storage File Data Privileged Reader,
gives entries that render the same msticpyconfig.yaml files as the example inventory, and plan
against them has nothing to do: the secrets the configs reference are in the vault already
(`keyvault:` sources), referenced, neither pushed again nor reported as orphans.

Reads only: the request log (`provision.emulator.requestlog.is_write`, the project's one
read/write rule) holds no write from discover, and no listKeys (the share is read with a token).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import EXAMPLE, run_invoke
from support.clients import share_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import SeedPrincipal, storage_account_name
from provision.inventory.load import load_inventory
from provision.render import MSTICPYCONFIG, Renderer

READER_APP = "discover-reader-app"
READER = SeedPrincipal(
    READER_APP,
    roles=[("Reader", "subscription"), ("Storage File Data Privileged Reader", "storage")],
)


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Emulator, Path]]:
    """The example fleet onboarded; endpoints signing in to every tenant as the reader app."""
    tmp = tmp_path_factory.mktemp("discover-example")
    shutil.copytree(EXAMPLE.parent, tmp / "fleet")
    fleet = tmp / "fleet" / "inventory.yaml"
    seeds = [
        dataclasses.replace(t, principals=[*t.principals, READER])
        for t in seed_tenants_from_inventory(load_inventory(fleet))
    ]
    with Emulator(tmp / "emu") as emu:
        emu.seed(seeds)
        res = run_invoke("onboard", "-i", str(fleet), "--endpoints", str(emu.endpoints_file))
        assert res.returncode == 0, res.stdout + res.stderr
        ep = json.loads(emu.endpoints_file.read_text())
        for tenant_id in ep["tenants"]:
            ep["tenants"][tenant_id] = {"client_id": READER_APP, "client_secret": "any"}
        as_reader = tmp / "reader-endpoints.json"
        as_reader.write_text(json.dumps(ep))
        yield fleet, emu, as_reader


def _empty_inventory(example: Path, target: Path) -> Path:
    """The example's header and defaults, with no tenants."""
    text = example.read_text(encoding="utf-8")
    target.write_text(text[: text.index("\ntenants:")] + "\ntenants: []\n", encoding="utf-8")
    return target


@pytest.mark.slow
def test_discovered_tenants_render_the_example_files_and_plan_nothing(
    onboarded: tuple[Path, Emulator, Path],
) -> None:
    fleet, emu, as_reader = onboarded
    example = load_inventory(fleet)
    discovered = _empty_inventory(fleet, fleet.parent / "discovered.yaml")
    mark = len(emu.requests())
    for t in example.tenants:
        res = run_invoke(
            "discover", "-t", t.name, "--tenant-id", t.tenant_id,
            "--subscription-id", t.subscription_id, "-i", str(discovered),
            "--endpoints", str(as_reader),
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Traceback" not in res.stderr
    log = emu.requests()[mark:]
    assert log, "discover read through the emulator"
    assert [(r["method"], r["op"]) for r in log if is_write(r)] == []
    assert not [r for r in log if "Keys" in str(r.get("op"))], "the share is read with a token"
    reader_calls = [r for r in log if r["service"] in ("arm", "files")]
    assert reader_calls and all(r["status"] < 400 for r in reader_calls), [
        (r["op"], r["status"]) for r in reader_calls if r["status"] >= 400
    ]

    found = load_inventory(discovered)
    renderer = Renderer()
    for want in example.tenants:
        got = found.select([want.name])[0]
        assert [(u.alias, u.compute) for u in got.users] == [
            (u.alias, u.compute) for u in want.users
        ]
        bob = [u for u in got.users if u.object_id == "3d6c2a71-5b8e-4f09-a1c2-7e4d9b0f6a13"]
        assert want.name != "contoso" or [u.alias for u in bob] == ["bob"]
        mine, theirs = renderer.render_tenant(got), renderer.render_tenant(want)
        for alias, files in theirs.user_files.items():
            assert mine.user_files[alias][MSTICPYCONFIG].content == files[MSTICPYCONFIG].content
        assert mine.pushes == [], "every secret the configs name is in the vault already"
        assert "keyvault:" in discovered.read_text(encoding="utf-8")

    plan = run_invoke(
        "plan", "-i", str(discovered), "--endpoints", str(emu.endpoints_file),
        "--detailed-exitcode", "--json",
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for tenant in json.loads(plan.stdout)["tenants"]:
        assert not [n for n in tenant["notes"] if n.startswith("kept in")], tenant["notes"]
        secrets = [i for i in tenant["items"] if i["kind"] == "secret"]
        assert secrets == [], secrets  # none pushed, none an orphan


def test_a_subscription_the_identity_cannot_read_is_one_line(
    onboarded: tuple[Path, Emulator, Path],
) -> None:
    fleet, _, as_reader = onboarded
    contoso, fabrikam = load_inventory(fleet).tenants
    # contoso's identity asking for fabrikam's subscription: ARM refuses the other tenant's
    # token (401 InvalidAuthenticationTokenTenant)
    res = run_invoke(
        "discover", "-t", "contoso", "--tenant-id", contoso.tenant_id,
        "--subscription-id", fabrikam.subscription_id, "--endpoints", str(as_reader),
    )  # fmt: skip
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("error: tenant contoso: ") and fabrikam.subscription_id in line
    assert "InvalidAuthenticationTokenTenant" in line


def test_bad_flags_are_one_line_each_before_anything_is_read(tmp_path: Path) -> None:
    missing = tmp_path / "no-endpoints.json"  # never opened: the flags are refused first
    res = run_invoke("discover", "-t", "x", "--tenant-id", "nope", "--endpoints", str(missing))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: give --subscription-id (repeatable) to say where to look",
        "error: --tenant-id 'nope': not a GUID",
    ]


def test_replace_keeps_the_inventorys_sources_and_adds_a_new_user_folder(
    onboarded: tuple[Path, Emulator, Path],
) -> None:
    """Accepted drift (a new analyst's folder) brought back: the tenant's coordinates come from
    the entry being replaced, and the secrets it pushes keep their file: sources."""
    fleet, emu, as_reader = onboarded
    contoso = load_inventory(fleet).select(["contoso"])[0]
    copy = fleet.parent / "replaced.yaml"
    copy.write_text(fleet.read_text(encoding="utf-8"), encoding="utf-8")
    seed = seed_tenants_from_inventory(load_inventory(fleet))[0]
    share = share_client(emu, storage_account_name(seed))
    share.create_directory("Users/zoe")
    try:
        res = run_invoke(
            "discover", "-t", "contoso", "-i", str(copy), "--replace",
            "--endpoints", str(as_reader),
        )  # fmt: skip
    finally:
        share.get_directory_client("Users/zoe").delete_directory()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "kept 6 secret source(s) of the inventory" in res.stderr
    assert "folder Users/zoe has no compute instance" in res.stderr
    # the inventory as the admin wrote it, plus the one thing that changed (a pull request's diff)
    before = fleet.read_text(encoding="utf-8").splitlines(keepends=True)
    after = copy.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = [ln for ln in difflib.ndiff(before, after) if ln[:1] in "+-"]
    assert changed == ["+       - zoe\n"], changed
    got = load_inventory(copy).select(["contoso"])[0]
    assert [u.alias for u in got.users] == ["alice", "bob", "carol.jones", "zoe"]
    assert Renderer().render_tenant(got).pushes == Renderer().render_tenant(contoso).pushes
