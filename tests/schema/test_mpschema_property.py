"""Property: random damage to a valid config gets the same verdict from us and from msticpy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpschema_cases import TENANT, Config, Verdict, build_valid_config

WORDS = [
    "",
    "global",
    "usgov",
    "cn",
    "cli",
    "msi",
    "env",
    "interactive",
    "OTX",
    "OPR",
    "AzSTI",
    "Tor",
    "VirusTotal",
    "GeoLiteLookup",
    "IPStackLookup",
    "kv-soc/secret",
    "default",
    "Default",
    TENANT,
    "{" + TENANT + "}",
    TENANT.replace("-", ""),
    TENANT[:-1] + "g",
    "not-a-guid",
]
KEYS = [
    "Args",
    "AuthKey",
    "Primary",
    "Provider",
    "WorkspaceId",
    "TenantId",
    "EnvironmentVar",
    "KeyVault",
    "str",
    "workspace",
    "provider",
    "alias",
    "connect",
    "auth_methods",
    "x",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**12),
    st.floats(allow_nan=True),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    ),
    max_leaves=6,
)
DELETE = object()


def _node_paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path in a nested mapping (sections and leaves)."""
    if isinstance(node, Mapping):
        for key, sub in node.items():
            path = (*prefix, key)
            yield path
            yield from _node_paths(sub, path)


@pytest.fixture(scope="module")
def mutation_paths(msticpy_oracle: Any) -> list[tuple[str, ...]]:
    """Paths in our valid config plus every path msticpy's schema defines."""
    controls_cls, definitions = msticpy_oracle
    schema = dict(controls_cls(definitions, {}).config_defn)
    schema.pop("definitions")  # msticpy's macro block (see msticpy_contract/schema.py)
    paths = set(_node_paths(build_valid_config())) | set(_node_paths(schema))
    return sorted(paths)


def _apply(cfg: Config, path: tuple[str, ...], value: Any) -> None:
    node: Any = cfg
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(key, {}) if node.get(key) is None else node[key]
    if not isinstance(node, dict):
        return
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


@settings(
    # MPSCHEMA_EXAMPLES=20000 for a long hunt; the default keeps the suite quick.
    max_examples=int(os.environ.get("MPSCHEMA_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_mutations_same_verdict_as_msticpy(
    data: st.DataObject,
    mutation_paths: list[tuple[str, ...]],
    same_verdict: Callable[[Mapping[str, Any]], Verdict],
) -> None:
    cfg = build_valid_config()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(mutation_paths), label="path")
        value = data.draw(st.one_of(st.just(DELETE), VALUES), label="value")
        _apply(cfg, path, value)
    same_verdict(cfg)
