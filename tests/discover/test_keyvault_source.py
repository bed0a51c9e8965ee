"""The `keyvault:NAME` secret source: a secret already in the tenant's vault, rendered as
`{KeyVault: NAME}` (the name msticpy then reads: msticpy/auth/secret_settings.py,
SecretsClient._get_kv_vault_and_name, a bare name in `KeyVault.VaultName`'s vault), never
pushed, refused where it cannot work, and made by `import` from `{KeyVault: ...}` references.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provision.adopt.mapping import Placement, import_config
from provision.errors import UserInputError
from provision.inventory.load import load_inventory_text
from provision.msticpy_contract.secret_names import referenced_secrets, vault_secrets
from provision.render import MSTICPYCONFIG, Renderer

TENANT = """\
version: 1
tenants:
  - name: small
    tenant_id: 5e1f0c2a-7b3d-4c8e-9f1a-2b3c4d5e6f70
    subscription_id: 0d9c8b7a-6f5e-4d3c-8b2a-1a0b9c8d7e6f
    resource_group: rg-small
    ml_workspace: mlw-small
    key_vault: kv-small-nb
    secret_prefix: small
    sentinel:
      - {name: Small, workspace_id: 7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d,
         workspace_name: law-small, default: true}
    ti_providers:
      VirusTotal: {args: {auth_key: "keyvault:Shared-VT-Key"}}
      OTX: {args: {auth_key: "env:SMALL_OTX"}}
    msticpy:
      DataProviders:
        Splunk2:
          Args: {password: "keyvault:splunk-password"}
    users: [alice]
"""


def _load(text: str) -> object:
    return load_inventory_text(text, Path("inventory.yaml")).tenants[0]


def test_it_renders_the_name_as_given_and_is_never_pushed() -> None:
    t = _load(TENANT)
    render = Renderer().render_tenant(t)  # type: ignore[arg-type]
    cfg = yaml.safe_load(render.user_files["alice"][MSTICPYCONFIG].content)
    vt = cfg["TIProviders"]["VirusTotal"]["Args"]["AuthKey"]
    assert vt == {"KeyVault": "Shared-VT-Key"}  # no secret_prefix: the secret as it is named
    assert cfg["DataProviders"]["Splunk2"]["Args"]["password"] == {"KeyVault": "splunk-password"}
    assert cfg["TIProviders"]["OTX"]["Args"]["AuthKey"] == {
        "KeyVault": "small-TIProviders-OTX-Args-AuthKey"
    }
    assert [(p.name, p.source) for p in render.pushes] == [
        ("small-TIProviders-OTX-Args-AuthKey", "env:SMALL_OTX")
    ]
    # what msticpy reads, and what orphan detection keeps
    assert {("kv-small-nb", "shared-vt-key"), ("kv-small-nb", "splunk-password")} <= (
        referenced_secrets(cfg)
    )
    assert vault_secrets(t) == {
        ("kv-small-nb", "shared-vt-key"),
        ("kv-small-nb", "splunk-password"),
    }  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("keyvault:Shared-VT-Key", "keyvault:not a name"),
            "keyvault: reference needs a Key Vault secret name (1-127 of letters, digits, '-')",
        ),
        (
            ("    secret_prefix: small\n", "    secret_prefix: small\n    secret_store: env\n"),
            "TIProviders.VirusTotal.Args.AuthKey: keyvault:Shared-VT-Key is a secret in the "
            "tenant's Key Vault, which secret_store: env does not use",
        ),
    ],
    ids=["bad name", "secret_store env"],
)
def test_it_is_refused_where_it_cannot_work(change: tuple[str, str], message: str) -> None:
    with pytest.raises(UserInputError) as info:
        _load(TENANT.replace(*change))
    assert any(message in line for line in info.value.lines()), info.value.lines()


def test_import_turns_references_to_the_tenants_vault_into_it() -> None:
    cfg = {
        "KeyVault": {"VaultName": "kv-small-nb"},
        "AzureSentinel": {
            "Workspaces": {
                "Default": {
                    "WorkspaceId": "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
                    "TenantId": "5e1f0c2a-7b3d-4c8e-9f1a-2b3c4d5e6f70",
                }
            }
        },
        "TIProviders": {
            "VirusTotal": {"Args": {"AuthKey": {"KeyVault": None}}, "Provider": "VirusTotal"},
            "OTX": {"Args": {"AuthKey": {"KeyVault": "kv-small-nb/otx-key"}}, "Provider": "OTX"},
            "GreyNoise": {
                "Args": {"AuthKey": {"KeyVault": "kv-other/gn"}},
                "Primary": True,
                "Provider": "GreyNoise",
            },
        },
    }
    place = Placement(
        "small", "5e1f0c2a-7b3d-4c8e-9f1a-2b3c4d5e6f70", "0d9c8b7a-6f5e-4d3c-8b2a-1a0b9c8d7e6f",
        "rg-small", "mlw-small", None, ["alice"],
    )  # fmt: skip
    entry = import_config(cfg, place, lambda path: f"env:X_{path}").entry
    ti = entry["ti_providers"]
    assert ti["VirusTotal"]["args"] == {"auth_key": "keyvault:TIProviders-VirusTotal-Args-AuthKey"}
    assert ti["OTX"]["args"] == {"auth_key": "keyvault:otx-key"}
    # another vault's secret stays a msticpy reference in the block, as it was
    assert "GreyNoise" not in ti
    assert entry["msticpy"]["TIProviders"]["GreyNoise"]["Args"]["AuthKey"] == {
        "KeyVault": "kv-other/gn"
    }
