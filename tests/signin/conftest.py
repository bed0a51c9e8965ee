"""Fixtures of the sign-in tests: one emulator seeded with two tenants for the module, and a
home folder of the test's own (azure-identity keeps its persistent token cache under ~)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from signin_helpers import GUEST, HOME

from provision.emulator import Emulator


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("emulator")) as emulator:
        emulator.seed([HOME, GUEST])
        emulator.backend.identity.flows.device_code_interval_s = 1  # Entra's is 5
        yield emulator


@pytest.fixture
def home_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home
