"""msticpy itself is the oracle: its name resolution must give exactly our push mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import EXAMPLE

from provision.inventory.load import load_inventory_text
from provision.render import Renderer


def _secret_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every {KeyVault: ...} reference in a config."""
    if isinstance(node, dict):
        if set(node) == {"KeyVault"}:
            yield prefix
            return
        for k, v in node.items():
            yield from _secret_paths(v, f"{prefix}.{k}" if prefix else str(k))


@pytest.fixture(scope="module")
def msticpy_resolver() -> Iterator[Any]:
    import os

    from msticpy.common import pkg_config

    saved = os.environ.get("MSTICPYCONFIG")

    def resolve(config_file: Path) -> Any:
        from msticpy.auth.secret_settings import SecretsClient

        os.environ["MSTICPYCONFIG"] = str(config_file)
        pkg_config.refresh_config()
        return SecretsClient(use_keyring=False)._get_kv_vault_and_name

    yield resolve
    if saved is None:
        os.environ.pop("MSTICPYCONFIG", None)
    else:
        os.environ["MSTICPYCONFIG"] = saved
    pkg_config.refresh_config()


@pytest.mark.parametrize("prefix", [None, "soc-contoso"])
def test_msticpy_resolves_exactly_the_pushed_names(
    tmp_path: Path, msticpy_resolver: Any, prefix: str | None
) -> None:
    text = EXAMPLE.read_text()
    if prefix:
        text = text.replace(
            "    key_vault: kv-contoso-nb",
            f"    key_vault: kv-contoso-nb\n    secret_prefix: {prefix}",
        )
    inv = load_inventory_text(text, EXAMPLE)
    renderer = Renderer()
    for tenant in inv.tenants:
        r = renderer.render_tenant(tenant)
        cfg_file = tmp_path / f"{tenant.name}.yaml"
        cfg_file.write_bytes(r.tenant_files["msticpyconfig.yaml"].content)
        resolve = msticpy_resolver(cfg_file)
        referenced = set(_secret_paths(yaml.safe_load(cfg_file.read_text())))
        assert referenced == {p.setting_path for p in r.pushes}
        assert r.pushes, "the example pushes secrets for every tenant"
        for push in r.pushes:
            assert resolve(push.setting_path) == (push.vault, push.name)
        if prefix and tenant.name == "contoso":
            assert all(p.name.startswith(f"{prefix}-") for p in r.pushes)


def test_referenced_secrets_resolves_as_msticpy_does(tmp_path: Path, msticpy_resolver: Any) -> None:
    # The prune guard (provision.tenant.orphans) keeps every secret a rendered config reads:
    # its resolution of each reference shape must be msticpy's own.
    from provision.msticpy_contract.secret_names import referenced_secrets

    cfg = {
        "KeyVault": {"VaultName": "kv-default", "TenantId": "t", "Authority": "global"},
        "TIProviders": {
            "VirusTotal": {"Args": {"AuthKey": {"KeyVault": None}}, "Provider": "VirusTotal"},
            "OTX": {"Args": {"AuthKey": {"KeyVault": "default"}}, "Provider": "OTX"},
            "XForce": {
                "Args": {"ApiID": {"KeyVault": "kv-other/xf.id"}, "AuthKey": {"KeyVault": "xf"}},
                "Provider": "XForce",
            },
            "GreyNoise": {"Args": {"AuthKey": {"EnvironmentVar": "GN"}}, "Provider": "GreyNoise"},
        },
    }
    path = tmp_path / "msticpyconfig.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    resolve = msticpy_resolver(path)
    settings = [
        "TIProviders.VirusTotal.Args.AuthKey",
        "TIProviders.OTX.Args.AuthKey",
        "TIProviders.XForce.Args.ApiID",
        "TIProviders.XForce.Args.AuthKey",
    ]
    by_msticpy = {tuple(str(x).casefold() for x in resolve(s)) for s in settings}
    assert referenced_secrets(cfg) == by_msticpy
    assert len(by_msticpy) == 4
