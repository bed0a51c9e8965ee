"""An imported tenant renders a config that msticpy reads as the same settings as the original.

Five real-shaped configs (tests/adopt/configs; two follow msticpy's own tests/testdata
msticpyconfig.yaml and msticpyconfig-kv.yaml) are imported into an inventory, the tenant is
rendered, and both files are loaded through msticpy's settings machinery
(msticpy.common.pkg_config). Every setting of the original must read the same in the render;
a secret that was plain text must now be a Key Vault reference that msticpy's SecretsClient
resolves to a secret apply pushes, from a file holding exactly the original value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from adopt_cases import BASE_INVENTORY, CONFIGS

from provision.commands.import_config import ImportOptions, run
from provision.inventory.load import load_inventory
from provision.render import Renderer

# config -> (the flags an admin must add: what the config does not say, the plaintext secrets)
CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "plaintext_keys": (
        {
            "key_vault": "kv-lab-nb",
            "subscription_id": "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f",
            "resource_group": "rg-lab",
        },
        {
            "TIProviders.OTX.Args.AuthKey",
            "TIProviders.XForce.Args.ApiID",
            "TIProviders.XForce.Args.AuthKey",
            "TIProviders.OpenPageRank.Args.AuthKey",
            "OtherProviders.GeoIPLite.Args.AuthKey",
            "OtherProviders.IPStack.Args.AuthKey",
        },
    ),
    "keyvault_refs": ({}, {"TIProviders.OpenPageRank.Args.AuthKey"}),
    "envvar_refs": ({"key_vault": "kv-contoso-nb"}, set()),
    "several_workspaces": (
        {},
        {"TIProviders.VirusTotal.Args.AuthKey", "TIProviders.AbuseIPDB.Args.AuthKey"},
    ),
    "custom_sections": (
        {},
        {
            "TIProviders.VirusTotal.Args.AuthKey",
            "DataProviders.Splunk.Args.password",
            "DataProviders.Sumologic.Args.accesskey",
        },
    ),
}

# What the render may add to an original: the Key Vault connection and cloud the tool owns,
# msticpy's provider ids and Primary flags, workspace fields, autoload details.
# (msticpy itself reads AzureSentinel as MSSentinel and copies each workspace to DataProviders.)
_WORKSPACE = r"\.(WorkspaceName|WorkspaceId|TenantId|SubscriptionId|ResourceGroup)"
ALLOWED_ADDITION = re.compile(
    # Azure.tenant_id: the customer tenant, so that guest analysts connect to it.
    r"KeyVault\.\w+|Azure\.(cloud|tenant_id)|TIProviders\.\w+\.(Primary|Provider)"
    rf"|MSSentinel\.Workspaces\.[\w-]+{_WORKSPACE}"
    rf"|DataProviders\.AzureSentinel_[\w-]+\.Args{_WORKSPACE}"
    r"|UserDefaults\.LoadComponents\.\w+\.(connect|res_id)|OtherProviders\.\w+\.Provider"
)
_MISSING = object()


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every setting; msticpy secret references are single values."""
    reference = isinstance(node, dict) and list(node) in (["KeyVault"], ["EnvironmentVar"])
    if isinstance(node, dict) and node and not reference:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, node


def import_into(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], **flags: Any
) -> tuple[Path, str, str]:
    inventory = tmp_path / "fleet" / "inventory.yaml"
    if not inventory.exists():
        inventory.parent.mkdir(parents=True)
        inventory.write_text(BASE_INVENTORY, encoding="utf-8")
    flags.setdefault("secrets_dir", str(tmp_path / "fleet" / "secrets"))
    flags.setdefault("ml_workspace", "mlw-imported")
    flags.setdefault("users", ["analyst1"])
    capsys.readouterr()
    code = run(
        ImportOptions(config=str(config), tenant="imported", inventory=str(inventory), **flags)
    )
    assert code == 0
    out, err = capsys.readouterr()
    return inventory, out, err


@pytest.mark.parametrize("name", sorted(CASES))
def test_msticpy_reads_the_render_of_an_imported_config_as_the_original(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    msticpy_settings: Callable[[Path], dict[str, Any]],
    msticpy_secret_name: Callable[[Path, str], Any],
    msticpy_failures: Callable[[dict[str, Any]], list[str]],
) -> None:
    flags, plaintext = CASES[name]
    config = CONFIGS / f"{name}.yaml"
    inventory, _, err = import_into(tmp_path, config, capsys, **flags)

    tenant = load_inventory(inventory).select(["imported"])[0]
    render = Renderer().render_tenant(tenant)
    rendered = tmp_path / "rendered.yaml"
    rendered.write_bytes(render.tenant_files["msticpyconfig.yaml"].content)

    original = dict(_leaves(msticpy_settings(config)))
    now = dict(_leaves(msticpy_settings(rendered)))
    pushes = {(p.vault, p.name): p for p in render.pushes}
    inventory_text = inventory.read_text(encoding="utf-8")
    for path, value in original.items():
        if path in plaintext:
            vault, secret = msticpy_secret_name(rendered, path)
            assert now[path] == {"KeyVault": secret}, path
            push = pushes[(vault, secret)]  # apply writes exactly what msticpy looks up
            source = inventory.parent / push.source.removeprefix("file:")
            assert source.read_text(encoding="utf-8").strip() == str(value)
            assert (source.stat().st_mode & 0o777) == 0o600
            assert source.resolve().is_relative_to(inventory.parent.resolve())
            assert str(value) not in inventory_text and str(value) not in err
        elif isinstance(value, dict) and set(value) == {"KeyVault"}:
            # a secret already in the vault (now a keyvault: source): msticpy reads the same one
            assert set(now.get(path, {})) == {"KeyVault"}, path
            assert msticpy_secret_name(rendered, path) == msticpy_secret_name(config, path), path
        else:
            assert now.get(path, _MISSING) == value, f"{path}: {now.get(path)!r} != {value!r}"
    assert {p for p in original if p in plaintext} == plaintext, "the case lists real settings"

    added = set(now) - set(original)
    reported = set(err.split("(not in the original):\n", 1)[-1].split())
    assert {p for p in added if not ALLOWED_ADDITION.fullmatch(p)} == set()
    ours = {p.replace("MSSentinel.", "AzureSentinel.", 1) for p in added}
    assert {p for p in ours if ".AzureSentinel_" not in p} <= reported, "import names additions"
    for push in render.pushes:  # every pushed name is the one msticpy resolves
        assert msticpy_secret_name(rendered, push.setting_path) == (push.vault, push.name)
    assert msticpy_failures(yaml.safe_load(rendered.read_text())) == []
