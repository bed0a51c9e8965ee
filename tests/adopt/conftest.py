"""msticpy itself as the judge of an import: its settings loader, its secret-name resolver and its
validator, each run on real files with MSTICPYCONFIG pointing at them (never at the machine's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def msticpy_settings(msticpy_env: Callable[[Path], None]) -> Callable[[Path], dict[str, Any]]:
    """The settings msticpy holds after reading a config file (package defaults merged in)."""
    from msticpy.common import pkg_config

    def read(config_file: Path) -> dict[str, Any]:
        msticpy_env(config_file)
        return _plain(pkg_config.get_settings())

    return read


@pytest.fixture(scope="module")
def msticpy_secret_name(msticpy_env: Callable[[Path], None]) -> Callable[[Path, str], Any]:
    """(vault, secret name) msticpy resolves for a setting path of a config file."""

    def resolve(config_file: Path, setting_path: str) -> Any:
        from msticpy.auth.secret_settings import SecretsClient

        msticpy_env(config_file)
        return SecretsClient(use_keyring=False)._get_kv_vault_and_name(setting_path)

    return resolve


@pytest.fixture(scope="module")
def msticpy_failures(msticpy_env: Callable[[Path], None]) -> Callable[[dict[str, Any]], list[str]]:
    """msticpy's validator: the failure messages for a config (empty: valid)."""
    from msticpy.config.mp_config_control import MpConfigControls, get_mpconfig_definitions

    definitions = get_mpconfig_definitions()

    def failures(cfg: dict[str, Any]) -> list[str]:
        controls = MpConfigControls(definitions, copy.deepcopy(cfg))
        return [status for ok, status in controls.validate_all_settings() if not ok]

    return failures


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):  # msticpy's SettingsDict is a Mapping, not a dict
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
