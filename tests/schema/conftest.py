"""Fixtures for the msticpyconfig schema check: a valid config and msticpy as the oracle.

The oracle is msticpy's own validator, imported once per session:
``MpConfigControls(get_mpconfig_definitions(), cfg).validate_all_settings()``.
Verdict (see provision/mpschema.py): the set of setting paths msticpy flags as failures, or
CRASH when its validator raises instead of answering.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from mpschema_cases import CRASH, Config, Verdict, build_valid_config, our_verdict

from provision.msticpy_contract.schema import check_msticpyconfig

_STATUS_PATH = re.compile(r"path '([^']*)'$")


@pytest.fixture(scope="session")
def msticpy_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """msticpy's MpConfigControls + its definitions, imported headless and hermetic.

    Importing msticpy.config loads msticpy's own settings (msticpy.common.pkg_config) from
    MSTICPYCONFIG / ./msticpyconfig.yaml / ~; point it at an empty file in a temp folder so the
    machine's settings cannot leak in. ipywidgets only needs to be importable (no kernel).
    """
    home = tmp_path_factory.mktemp("msticpy-home")
    (home / "msticpyconfig.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MSTICPYCONFIG", str(Path(home, "msticpyconfig.yaml")))
        patch.chdir(home)
        from msticpy.config.mp_config_control import (
            MpConfigControls,
            get_mpconfig_definitions,
        )

        yield MpConfigControls, get_mpconfig_definitions()


@pytest.fixture(scope="session")
def msticpy_verdict(msticpy_oracle: Any) -> Callable[[Mapping[str, Any]], Verdict]:
    controls_cls, definitions = msticpy_oracle

    def verdict(cfg: Mapping[str, Any]) -> Verdict:
        # msticpy mutates the config (copies AzureCLI into DataProviders): give it a copy.
        controls = None
        try:
            controls = controls_cls(definitions, copy.deepcopy(dict(cfg)))
            results = controls.validate_all_settings()
        except Exception:
            return CRASH
        paths = set()
        for ok, status in results:
            if ok:
                continue  # informational; not returned with show_all=False anyway
            match = _STATUS_PATH.search(status)
            assert match, f"unexpected msticpy status format: {status}"
            paths.add(match.group(1))
        return frozenset(paths)

    return verdict


@pytest.fixture(scope="session")
def same_verdict(
    msticpy_verdict: Callable[[Mapping[str, Any]], Verdict],
) -> Callable[[Mapping[str, Any]], Verdict]:
    """Assert our verdict equals msticpy's on ``cfg`` and return it."""

    def check(cfg: Mapping[str, Any]) -> Verdict:
        theirs = msticpy_verdict(cfg)
        ours = our_verdict(cfg)
        assert ours == theirs, f"msticpy says {theirs!r}, we say {ours!r}:\n" + "\n".join(
            str(p) for p in check_msticpyconfig(cfg)
        )
        return theirs

    return check


@pytest.fixture
def valid_config() -> Config:
    return build_valid_config()
