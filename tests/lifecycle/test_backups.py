"""Hand-edited files are kept before the tool overwrites them (emulator, official SDK clients)."""

from __future__ import annotations

import re
from pathlib import Path

from lifecycle_helpers import ERIN, folder_names, plan_items, read, share_of, tool

from provision.backups import BACKUP_FOLDER, back_up
from provision.emulator import Emulator
from provision.share import WorkspaceShare

CONFIG = "Users/dave/msticpyconfig.yaml"
BACKUPS = f"Users/dave/{BACKUP_FOLDER}"
EDITED = b"# my own tweaks\nAzureSentinel: {}\n"


def test_hand_edited_config_is_backed_up_before_it_is_overwritten(
    fleet: Path, emu: Emulator
) -> None:
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    ours = read(share, CONFIG)
    share.get_file_client(CONFIG).upload_file(EDITED)  # the analyst edits it in place

    items = [i for i in plan_items(fleet, emu, "-t", "fabrikam") if i["target"] == CONFIG]
    assert len(items) == 1 and items[0]["action"] == "update"
    detail = items[0]["detail"]
    assert detail.startswith("edited outside msticpy-provision; the current file will be kept as")
    planned = detail.rsplit(" ", 1)[1]
    assert re.fullmatch(rf"{BACKUPS}/msticpyconfig\.yaml\.\d{{8}}T\d{{6}}Z", planned)

    res = tool("apply", fleet, emu, "-t", "fabrikam")
    assert res.returncode == 0, res.stdout + res.stderr
    assert read(share, CONFIG) == ours
    kept = folder_names(share, BACKUPS)
    assert len(kept) == 1
    assert read(share, f"{BACKUPS}/{kept.pop()}") == EDITED
    # The tool's own rewrite is no edit: the next plan is empty and makes no second backup.
    again = tool("apply", fleet, emu, "-t", "fabrikam")
    assert again.returncode == 0 and "0 created, 0 updated, 0 deleted" in again.stdout
    assert len(folder_names(share, BACKUPS)) == 1


def test_first_apply_keeps_a_file_the_analyst_had_before(fleet: Path, emu: Emulator) -> None:
    share = share_of(emu, fleet, "fabrikam")
    WorkspaceShare(share, tenant="fabrikam").ensure_folder("Users/dave")
    share.get_file_client(CONFIG).upload_file(EDITED)  # not in any manifest
    res = tool("apply", fleet, emu, "-t", "fabrikam")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "edited outside msticpy-provision" in res.stdout
    kept = folder_names(share, BACKUPS)
    assert len(kept) == 1 and read(share, f"{BACKUPS}/{kept.pop()}") == EDITED


def test_backups_are_bounded_per_file_oldest_removed_first(fleet: Path, emu: Emulator) -> None:
    share = share_of(emu, fleet, "fabrikam")
    ws = WorkspaceShare(share, tenant="fabrikam")
    ws.ensure_folder("Users/dave")
    ws.upload_atomic("Users/dave/config.json", b"{}", "application/json")
    stamps = ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z", "20260104T000000Z"]
    for n, stamp in enumerate(stamps):
        ws.upload_atomic("Users/dave/config.json", f'{{"n": {n}}}'.encode(), "application/json")
        assert back_up(ws, "Users/dave/config.json", f"{BACKUPS}/config.json.{stamp}", keep=2)
    assert folder_names(share, BACKUPS) == {f"config.json.{s}" for s in stamps[2:]}
    assert read(share, f"{BACKUPS}/config.json.{stamps[3]}") == b'{"n": 3}'
    assert not back_up(ws, "Users/dave/gone.json", f"{BACKUPS}/gone.json.{stamps[0]}")


def test_an_edited_orphan_is_reported_and_never_deleted(fleet: Path, emu: Emulator) -> None:
    # The notebooks share is every analyst's (DESIGN.md, third review): a file the tool wrote
    # that someone edited since is theirs now; --prune reports it and leaves it in place.
    assert tool("apply", fleet, emu).returncode == 0
    share = share_of(emu, fleet, "fabrikam")
    erin = "Users/erin/msticpyconfig.yaml"
    share.get_file_client(erin).upload_file(EDITED)
    text = fleet.read_text(encoding="utf-8")
    fleet.write_text(text.replace(ERIN, ""), "utf-8")
    [item] = [i for i in plan_items(fleet, emu, "--prune") if i["target"] == erin]
    assert item["action"] == "report" and "edited outside msticpy-provision" in item["detail"]
    assert "kept (not deleted)" in item["detail"]
    res = tool("apply", fleet, emu, "--prune")
    assert res.returncode == 0, res.stdout + res.stderr
    assert read(share, erin) == EDITED
    # the unedited files of the removed analyst are pruned
    assert "config.json" not in folder_names(share, "Users/erin")
