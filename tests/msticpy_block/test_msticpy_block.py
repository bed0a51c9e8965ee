"""The inventory's `msticpy:` block: merged into the render (the block wins, validate says so),
checked with FILE:LINE, refused where the tool owns a key, and its env:/file: references pushed
under the names msticpy resolves (msticpy's own SecretsClient is the oracle, as in
tests/render/test_msticpy_oracle.py), into the vault apply writes (the emulator, read back with
azure-keyvault-secrets).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.keyvault.secrets import SecretClient
from support import EXAMPLE, run_invoke

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.inventory.load import load_inventory
from provision.render import Renderer

FABRIKAM_USERS = "    users:\n      - dave\n"
BLOCK = """\
    msticpy:                      # settings the inventory has no field for
      KustoClusters:
        Help:
          Args:
            Cluster: https://help.kusto.windows.net
            TenantId: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
            IntegratedAuth: true
      DataProviders:
        Kusto:
          Args:
            Cluster: https://help.kusto.windows.net
            TenantId: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
            IntegratedAuth: true
        Splunk:
          Args:
            host: splunk.fabrikam.example
            username: hunter
            password: env:FABRIKAM_SPLUNK_PASSWORD
            port: 8089
"""
SPLUNK_PATH = "DataProviders.Splunk.Args.password"
SPLUNK_VALUE = "DEMO-splunk-password-7731"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    return tmp_path / "fleet" / "inventory.yaml"


def with_block(fleet: Path, block: str, anchor: str = FABRIKAM_USERS) -> Path:
    text = fleet.read_text(encoding="utf-8")
    assert anchor in text
    fleet.write_text(text.replace(anchor, block + anchor, 1), encoding="utf-8")
    return fleet


def line_of(fleet: Path, needle: str) -> int:
    lines = fleet.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize("prefix", [None, "soc-fab"])
def test_kusto_and_splunk_block_renders_valid_and_pushes_under_msticpys_name(
    fleet: Path, tmp_path: Path, msticpy_env: Any, prefix: str | None
) -> None:
    with_block(fleet, BLOCK + (f"    secret_prefix: {prefix}\n" if prefix else ""))
    tenant = load_inventory(fleet).select(["fabrikam"])[0]
    render = Renderer().render_tenant(tenant)
    rendered = tmp_path / "msticpyconfig.yaml"
    rendered.write_bytes(render.tenant_files["msticpyconfig.yaml"].content)
    cfg = yaml.safe_load(rendered.read_text(encoding="utf-8"))

    assert cfg["KustoClusters"]["Help"]["Args"]["Cluster"] == "https://help.kusto.windows.net"
    name = f"{prefix}-" * bool(prefix) + "DataProviders-Splunk-Args-password"
    assert cfg["DataProviders"]["Splunk"]["Args"]["password"] == {"KeyVault": name}
    assert cfg["DataProviders"]["AzureCLI"]["Args"]["clientId"], "the fields' settings remain"

    from msticpy.auth.secret_settings import SecretsClient
    from msticpy.config.mp_config_control import MpConfigControls, get_mpconfig_definitions

    msticpy_env(rendered)
    controls = MpConfigControls(get_mpconfig_definitions(), copy.deepcopy(cfg))
    assert [status for ok, status in controls.validate_all_settings() if not ok] == []
    resolved = SecretsClient(use_keyring=False)._get_kv_vault_and_name(SPLUNK_PATH)
    pushes = {p.setting_path: p for p in render.pushes}
    splunk = pushes[SPLUNK_PATH]
    assert (splunk.vault, splunk.name) == resolved == ("kv-fabrikam-nb", name)
    assert splunk.source == "env:FABRIKAM_SPLUNK_PASSWORD"


def test_apply_puts_the_blocks_secret_in_the_vault_under_that_name(
    fleet: Path, tmp_path: Path
) -> None:
    with_block(fleet, BLOCK)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(fleet)))
        res = run_invoke(
            "apply", "-i", str(fleet), "--endpoints", str(emu.endpoints_file), "-t", "fabrikam",
            env={"FABRIKAM_SPLUNK_PASSWORD": SPLUNK_VALUE},
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        assert SPLUNK_VALUE not in res.stdout + res.stderr
        vault = SecretClient(
            emu.endpoints["keyvault"].format(vault="kv-fabrikam-nb"),
            emu.credential,
            verify_challenge_resource=False,
            connection_verify=str(emu.ca_cert),
        )
        assert vault.get_secret("DataProviders-Splunk-Args-password").value == SPLUNK_VALUE


def test_the_block_wins_over_the_fields_and_validate_names_each_override(fleet: Path) -> None:
    with_block(
        fleet,
        "    msticpy:\n      TIProviders:\n        VirusTotal:\n          Primary: false\n"
        "      AzureSentinel:\n        Workspaces:\n          Fabrikam:\n"
        "            TenantId: 11111111-2222-4333-8444-555555555555\n",
    )
    tenant = load_inventory(fleet).select(["fabrikam"])[0]
    cfg = Renderer().render_tenant(tenant).msticpyconfig
    assert cfg["TIProviders"]["VirusTotal"]["Primary"] is False  # the inventory says true
    assert cfg["TIProviders"]["VirusTotal"]["Args"]["AuthKey"] == {
        "KeyVault": "TIProviders-VirusTotal-Args-AuthKey"
    }
    fab = cfg["AzureSentinel"]["Workspaces"]["Fabrikam"]
    assert fab["TenantId"] == "11111111-2222-4333-8444-555555555555"
    assert fab["WorkspaceId"] == "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
    res = run_invoke("validate", "-i", str(fleet))
    assert res.returncode == 0, res.stderr
    notes = [line for line in res.stdout.splitlines()[1:] if "msticpy#842" not in line]
    assert notes == [
        "note: tenant fabrikam: msticpy.AzureSentinel.Workspaces.Fabrikam.TenantId overrides "
        "the inventory's value",
        "note: tenant fabrikam: msticpy.TIProviders.VirusTotal.Primary overrides the "
        "inventory's value",
    ]
    doc = json.loads(run_invoke("validate", "-i", str(fleet), "--json").stdout)
    overrides = {t["tenant"]: t["msticpy_overrides"] for t in doc["tenants"]}
    assert overrides == {
        "contoso": [],
        "fabrikam": [
            "AzureSentinel.Workspaces.Fabrikam.TenantId",
            "TIProviders.VirusTotal.Primary",
        ],
    }


def test_block_in_defaults_reaches_every_tenant_and_a_tenants_own_keys_win(fleet: Path) -> None:
    with_block(
        fleet,
        "  msticpy:\n    msticpy:\n      http_timeout: 30\n      FriendlyExceptions: false\n",
        anchor="  autoload:\n    components:\n      TILookup: {}\n",
    )
    with_block(fleet, "    msticpy:\n      msticpy:\n        http_timeout: 90\n")
    renders = {t.name: Renderer().render_tenant(t) for t in load_inventory(fleet).tenants}
    assert renders["contoso"].msticpyconfig["msticpy"] == {
        "http_timeout": 30,
        "FriendlyExceptions": False,
    }
    assert renders["fabrikam"].msticpyconfig["msticpy"] == {
        "http_timeout": 90,
        "FriendlyExceptions": False,
    }


def test_env_secret_store_turns_block_references_into_environment_variables(
    fleet: Path,
) -> None:
    with_block(fleet, BLOCK + "    secret_store: env\n")
    tenant = load_inventory(fleet).select(["fabrikam"])[0]
    render = Renderer().render_tenant(tenant)
    splunk = render.msticpyconfig["DataProviders"]["Splunk"]["Args"]["password"]
    assert splunk == {"EnvironmentVar": "FABRIKAM_SPLUNK_PASSWORD"}
    assert render.pushes == []


def test_keys_the_tool_owns_are_refused_each_on_its_line(fleet: Path) -> None:
    with_block(
        fleet,
        "    msticpy:\n"
        "      KeyVault:\n        VaultName: kv-somewhere-else\n"
        "      Azure:\n        cloud: usgov\n"
        "      TIProviders:\n        AbuseIPDB:\n          Args:\n"
        "            AuthKey: env:OTHER_ABUSE_KEY\n",
    )
    res = run_invoke("validate", "-i", str(fleet))
    assert res.returncode == 1
    prefix = f"error: {fleet}"
    assert res.stderr.strip().splitlines() == [
        f"{prefix}:{line_of(fleet, 'VaultName: kv-somewhere')}: tenants[1].msticpy.KeyVault."
        "VaultName: KeyVault.VaultName is set by the tool from the tenant's key_vault; set "
        "key_vault",
        f"{prefix}:{line_of(fleet, 'cloud: usgov')}: tenants[1].msticpy.Azure.cloud: Azure.cloud "
        "is set by the tool from the tenant's cloud; set cloud",
        f"{prefix}:{line_of(fleet, 'OTHER_ABUSE_KEY')}: tenants[1].msticpy.TIProviders.AbuseIPDB."
        "Args.AuthKey: TIProviders.AbuseIPDB.Args.AuthKey is a secret the inventory's fields "
        "already provide; set it there",
    ]


def test_unknown_sections_wrong_types_and_literal_secrets_get_one_line_each(
    fleet: Path,
) -> None:
    literal = "hunter2-typed-into-the-inventory"
    with_block(
        fleet,
        "    msticpy:\n"
        "      KustoCluster:\n        Help: {}\n"
        "      DataProviders:\n        Kusto:\n          Args:\n"
        "            Cluster: https://help.kusto.windows.net\n"
        "            TenantId: not-a-guid\n"
        "            IntegratedAuth: yes please\n"
        "        Splunk:\n          Args:\n            host: splunk.example\n"
        f"            password: {literal}\n"
        "      QueryDefinitions:\n        Custom: [env:NOT_HERE]\n",
    )
    res = run_invoke("validate", "-i", str(fleet))
    assert res.returncode == 1
    assert literal not in res.stdout + res.stderr
    p = f"error: {fleet}"
    assert res.stderr.strip().splitlines() == [
        f"{p}:{line_of(fleet, 'KustoCluster:')}: tenants[1].msticpy.KustoCluster: not a msticpy "
        "section (did you mean 'KustoClusters'?)",
        f"{p}:{line_of(fleet, 'not-a-guid')}: tenants[1].msticpy.DataProviders.Kusto.Args."
        "TenantId: 'not-a-guid' is not a GUID; expected a GUID such as "
        "8ecf8077-cf51-4820-aadd-14040956f35d",
        f"{p}:{line_of(fleet, 'yes please')}: tenants[1].msticpy.DataProviders.Kusto.Args."
        "IntegratedAuth: expected true or false, got text 'yes please'",
        f"{p}:{line_of(fleet, literal)}: tenants[1].msticpy.DataProviders.Splunk.Args.password: "
        "holds a literal value where msticpy expects a secret; write env:NAME or file:PATH "
        "instead (the value is not shown)",
        f"{p}:{line_of(fleet, 'NOT_HERE')}: tenants[1].msticpy.QueryDefinitions.Custom: secret "
        "references (env:/file:) are not supported inside lists",
    ]


def test_a_block_reference_to_the_runners_credentials_is_refused(fleet: Path) -> None:
    with_block(fleet, BLOCK.replace("FABRIKAM_SPLUNK_PASSWORD", "AZURE_CLIENT_SECRET"))
    res = run_invoke("validate", "-i", str(fleet))
    assert res.returncode == 1
    assert "msticpy.DataProviders.Splunk.Args.password: env: reference names a CI or Azure" in (
        res.stderr
    )


def test_a_problem_in_the_defaults_block_is_reported_once_at_its_own_line(fleet: Path) -> None:
    with_block(
        fleet,
        "  msticpy:\n    KeyVault:\n      UseKeyring: true\n",
        anchor="  autoload:\n    components:\n      TILookup: {}\n",
    )
    res = run_invoke("validate", "-i", str(fleet))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {fleet}:{line_of(fleet, 'UseKeyring: true')}: defaults.msticpy.KeyVault."
        "UseKeyring: KeyVault.UseKeyring is set by the tool from the tenant's use_keyring; set "
        "use_keyring"
    ]


KUSTO_BLOCK = """\
    use_keyring: true
    msticpy:
      KustoClusters:
        Help:
          Args:
            Cluster: https://help.kusto.windows.net
            TenantId: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
            ClientId: 8f9a0b1c-2d3e-4f5a-9b6c-7d8e9f0a1b2c
            ClientSecret: env:FABRIKAM_KUSTO_SECRET
"""
KUSTO_VALUE = "DEMO-kusto-client-secret-5512"


class _MemoryKeyring:
    """A keyring backend in memory: msticpy reads cached Key Vault secrets from the keyring."""

    priority = 1

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, name: str) -> str | None:
        return self.values.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        self.values[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        self.values.pop((service, name), None)


def test_msticpys_kusto_driver_resolves_the_blocks_secret_to_the_pushed_name(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # msticpy's Kusto driver (msticpy/data/drivers/azure_kusto_driver.py, _create_protected_args)
    # makes a secret accessor only when value.get("KeyVault") is truthy: a {KeyVault: null}
    # reference reaches Kusto's auth as the raw dict. Every reference the tool renders names its
    # secret, so msticpy's own argument builder resolves it. The value comes from msticpy's
    # keyring cache (KeyringClient("Providers"), used when KeyVault.UseKeyring is true) so that
    # no Key Vault is needed; the cache is keyed by the secret name msticpy resolved.
    import keyring
    from keyring.backend import KeyringBackend
    from msticpy.auth.secret_settings import SecretsClient
    from msticpy.common import pkg_config, provider_settings
    from msticpy.data.drivers.azure_kusto_driver import _get_kusto_settings

    with_block(fleet, KUSTO_BLOCK)
    render = Renderer().render_tenant(load_inventory(fleet).select(["fabrikam"])[0])
    push = next(p for p in render.pushes if p.setting_path.startswith("KustoClusters."))
    assert (push.vault, push.name) == ("kv-fabrikam-nb", "KustoClusters-Help-Args-ClientSecret")
    config = tmp_path / "msticpyconfig.yaml"
    config.write_bytes(render.tenant_files["msticpyconfig.yaml"].content)
    rendered = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert rendered["KustoClusters"]["Help"]["Args"]["ClientSecret"] == {"KeyVault": push.name}

    memory = type("MemoryKeyring", (_MemoryKeyring, KeyringBackend), {})()
    saved_keyring = keyring.get_keyring()
    keyring.set_keyring(memory)
    memory.set_password("Providers", push.name, KUSTO_VALUE)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MSTICPYCONFIG", str(config))
    try:
        pkg_config.refresh_config()
        monkeypatch.setattr(provider_settings, "_SECRETS_CLIENT", SecretsClient())
        help_cluster = _get_kusto_settings()["id"]["help"]
        assert help_cluster.args["ClientSecret"] == KUSTO_VALUE
        assert help_cluster.args["ClientId"] == "8f9a0b1c-2d3e-4f5a-9b6c-7d8e9f0a1b2c"
    finally:
        keyring.set_keyring(saved_keyring)
        monkeypatch.undo()
        pkg_config.refresh_config()
