"""Fixtures shared by the suites that onboard the example fleet against the emulator.

A suite with fixtures of the same names (tests/emulator, tests/workflows) overrides these.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import EXAMPLE

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    """A private copy of the example inventory and its demo secrets."""
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


@pytest.fixture
def emu(tmp_path: Path, fleet: Path) -> Iterator[Emulator]:
    """A running emulator seeded from `fleet`."""
    with Emulator(tmp_path / "emu") as e:
        e.seed(seed_tenants_from_inventory(load_inventory(fleet)))
        yield e


@pytest.fixture(scope="module")
def msticpy_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], None]]:
    """Point msticpy's settings at a file and re-read them; restored afterwards."""
    from msticpy.common import pkg_config

    saved = os.environ.get("MSTICPYCONFIG")
    empty = tmp_path_factory.mktemp("msticpy-home") / "msticpyconfig.yaml"
    empty.write_text("{}\n", encoding="utf-8")

    def use(config_file: Path) -> None:
        os.environ["MSTICPYCONFIG"] = str(config_file)
        pkg_config.refresh_config()

    use(empty)
    yield use
    if saved is None:
        os.environ.pop("MSTICPYCONFIG", None)
    else:
        os.environ["MSTICPYCONFIG"] = saved
    pkg_config.refresh_config()
