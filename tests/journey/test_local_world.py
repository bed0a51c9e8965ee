"""--local says what it is, keeps one world per inventory, and --fresh starts it over."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from support import EXAMPLE
from test_next_steps import run_tool

from provision.commands.common import DEFAULT_LOCAL_DIR, local_state_dir


def two_fleets(tmp_path: Path) -> tuple[Path, Path]:
    for name in ("a", "b"):
        shutil.copytree(EXAMPLE.parent, tmp_path / name)
    return tmp_path / "a" / "inventory.yaml", tmp_path / "b" / "inventory.yaml"


def test_the_state_folder_is_keyed_by_the_inventorys_absolute_path(tmp_path: Path) -> None:
    a, b = two_fleets(tmp_path)
    key = hashlib.sha256(str(a.resolve()).encode()).hexdigest()[:12]
    assert local_state_dir(a) == Path(DEFAULT_LOCAL_DIR) / f"inventory-{key}"
    assert local_state_dir(a) != local_state_dir(b)


@pytest.mark.slow  # several runs against the local emulator
def test_each_inventory_has_its_own_world_and_fresh_starts_over(tmp_path: Path) -> None:
    a, b = two_fleets(tmp_path)
    applied = run_tool(tmp_path, "apply", "-i", str(a), "--local")
    assert applied.returncode == 0, applied.stderr
    # one line on what --local is, and where its state is
    assert "--local: a throwaway Azure made from" in applied.stderr
    assert "cannot catch a wrong tenant" in applied.stderr
    assert str(local_state_dir(a)) in applied.stderr
    assert "Plan: 0 to create" in run_tool(tmp_path, "plan", "-i", str(a), "--local").stdout
    # another inventory, same working folder: a world of its own, nothing applied there yet
    assert "Plan: 25 to create" in run_tool(tmp_path, "plan", "-i", str(b), "--local").stdout
    assert (tmp_path / local_state_dir(a) / "state.json").is_file()
    assert (tmp_path / local_state_dir(b) / "state.json").is_file()
    fresh = run_tool(tmp_path, "plan", "-i", str(a), "--local", "--fresh")
    assert "Plan: 25 to create" in fresh.stdout


def test_fresh_without_local_is_one_line(tmp_path: Path) -> None:
    res = run_tool(tmp_path, "plan", "-i", str(EXAMPLE), "--fresh")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: --fresh starts the local emulator's world over: use it with --local"
    ]
