"""Inventory rules that follow what msticpy and Azure ML do: one line per problem, FILE:LINE first.

Each case edits a small tenant and checks the line the admin gets. Where a rule rests on msticpy's
behaviour, tests/render/test_msticpy_loaders.py proves that behaviour with msticpy itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLE, run_invoke

from provision.errors import UserInputError
from provision.inventory.load import load_inventory
from provision.inventory.model import Inventory
from provision.inventory.rules import msticpy_warns_msi_order
from provision.render import Renderer

TENANT = """\
  - name: {name}
    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
    subscription_id: 3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f
    resource_group: rg-soc
    ml_workspace: mlw-soc
    key_vault: {vault}
    sentinel:
      - name: Prod
        workspace_id: 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9
        workspace_name: law-prod
        default: true
    ti_providers:
      VirusTotal:
        args: {{auth_key: "env:VT_KEY"}}
{extra}    users: {users}
"""


def _doc(*tenants: str, defaults: str = "") -> str:
    head = "version: 1\n" + (f"defaults:\n{defaults}" if defaults else "") + "tenants:\n"
    return head + "".join(tenants)


def _tenant(
    name: str = "contoso", vault: str = "kv-soc", extra: str = "", users: str = "[alice]"
) -> str:
    return TENANT.format(name=name, vault=vault, extra=extra, users=users)


def _load(text: str, tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return load_inventory(path)


def _problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(UserInputError) as info:
        _load(text, tmp_path)
    lines = info.value.lines()
    assert all("\n" not in line and "Traceback" not in line for line in lines)
    return lines


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- item 7: control characters -------------------------------------------------------------

CONTROL = ["\x1b[31m", "\x9b", "\x07", "\x7f", "\r", "\u2028", "\t"]


@pytest.mark.parametrize("bad", CONTROL)
def test_control_characters_in_free_text_are_refused_one_line_each(
    bad: str, tmp_path: Path
) -> None:
    escaped = bad.encode("unicode_escape").decode()
    extra = (
        f'    data_providers:\n      Splunk: {{host: "splunk{escaped}.example", '
        f'username: "hunter{escaped}", password: "env:SPLUNK"}}\n'
    )
    text = _doc(_tenant(extra=extra))
    lines = _problems(text, tmp_path)
    line = _line_of(text, "Splunk:")
    assert len(lines) == 2, lines  # host and username: one line each
    for got in lines:
        assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{line}: ")
        assert "control character" in got
        assert bad not in got  # shown escaped, never raw on the admin's terminal


def test_escape_sequence_in_an_alias_is_refused(tmp_path: Path) -> None:
    text = _doc(_tenant(users='["al\\x1b[2Jice"]'))
    [got] = _problems(text, tmp_path)
    assert "users[0]" in got and "control character \\x1b" in got


# --- aliases and users -----------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["o'brien", "~alice", "a!b^c", "_svc", "first.last"])
def test_entra_user_names_are_legal_aliases(alias: str, tmp_path: Path) -> None:
    """Entra allows ' . - _ ! # ^ ~ before the @ of a user name (see fields.py)."""
    quoted = alias.replace("'", "''")
    inv = _load(_doc(_tenant(users=f"['{quoted}']")), tmp_path)
    assert [u.alias for u in inv.tenants[0].user_list] == [alias]
    r = Renderer().render_tenant(inv.tenants[0])
    assert list(r.user_files) == [alias]


@pytest.mark.parametrize(
    "alias, expected",
    [
        ("a#b", "'#' is not supported"),
        ("-alice", "not starting with '.' or '-'"),
        ("alice.", "not ending with '.'"),
        ("a b", "1-64"),
    ],
)
def test_aliases_azure_ml_cannot_hold_are_refused(
    alias: str, expected: str, tmp_path: Path
) -> None:
    [got] = _problems(_doc(_tenant(users=f"['{alias}']")), tmp_path)
    assert expected in got


def test_tenant_without_users_yet_renders_tenant_files_only(tmp_path: Path) -> None:
    inv = _load(_doc(_tenant(users="[]")), tmp_path)
    assert inv.tenants[0].user_list == []
    assert inv.warnings == ()
    r = Renderer().render_tenant(inv.tenants[0])
    assert set(r.tenant_files) == {"msticpyconfig.yaml", "config.json"}
    assert r.user_files == {}
    assert [p.name for p in r.pushes] == ["TIProviders-VirusTotal-Args-AuthKey"]


def test_render_task_copes_with_a_tenant_without_users(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(_doc(_tenant(users="[]")))
    out = tmp_path / "out"
    res = run_invoke("render", "-i", str(path), "-o", str(out))
    assert res.returncode == 0, res.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["contoso/config.json", "contoso/msticpyconfig.yaml"]


# --- item 1: GeoLite account id --------------------------------------------------------------


def test_geolite_needs_the_maxmind_account_id(tmp_path: Path) -> None:
    extra = '    geoip: {provider: GeoLiteLookup, auth_key: "env:MAXMIND"}\n'
    text = _doc(_tenant(extra=extra))
    [got] = _problems(text, tmp_path)
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{_line_of(text, 'geoip:')}: ")
    assert "needs account_id" in got


def test_account_id_may_be_a_yaml_number_and_renders_as_text(tmp_path: Path) -> None:
    extra = '    geoip: {provider: GeoLiteLookup, account_id: 123456, auth_key: "env:MAXMIND"}\n'
    inv = _load(_doc(_tenant(extra=extra)), tmp_path)
    cfg = Renderer().render_tenant(inv.tenants[0]).msticpyconfig
    assert cfg["OtherProviders"]["GeoIPLite"]["Args"]["AccountID"] == "123456"


@pytest.mark.parametrize(
    "geoip, expected",
    [
        ('{provider: IPStackLookup, account_id: "1", auth_key: "env:K"}', "only to GeoLiteLookup"),
        ('{provider: GeoLiteLookup, account_id: "12ab", auth_key: "env:K"}', "digits only"),
    ],
)
def test_account_id_mistakes(geoip: str, expected: str, tmp_path: Path) -> None:
    [got] = _problems(_doc(_tenant(extra=f"    geoip: {geoip}\n")), tmp_path)
    assert expected in got


# --- item 2: components msticpy can load -----------------------------------------------------


def test_pivot_is_refused_once_at_the_defaults_line(tmp_path: Path) -> None:
    defaults = "  autoload:\n    components:\n      Pivot: {}\n"
    text = _doc(_tenant(), _tenant(name="fabrikam", vault="kv-fab"), defaults=defaults)
    [got] = _problems(text, tmp_path)
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{_line_of(text, 'Pivot')}: ")
    assert "no Pivot loader" in got


# --- item 3 and the rendered-file check: auth methods ----------------------------------------


@pytest.mark.parametrize("component", ["AzureData", "AzureSentinelAPI"])
def test_component_without_auth_methods_is_reported_at_the_inventory_line(
    component: str, tmp_path: Path
) -> None:
    extra = f"    autoload:\n      components:\n        {component}: {{connect: false}}\n"
    text = _doc(_tenant(extra=extra))
    [got] = _problems(text, tmp_path)
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{_line_of(text, component)}: ")
    assert "auth_methods is required" in got


AZCLI = (
    "    data_providers:\n      AzureCLI:\n"
    "        client_id: 5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9\n"
    '        client_secret: "env:AZCLI_SECRET"\n'
)


@pytest.mark.parametrize(
    "methods, expected",
    [
        ("", "every Azure connection would run as this service principal"),
        ("    azure_auth_methods: [cli, devicecode]\n", "never used"),
    ],
)
def test_service_principal_must_be_explicit(methods: str, expected: str, tmp_path: Path) -> None:
    text = _doc(_tenant(extra=methods + AZCLI))
    [got] = _problems(text, tmp_path)
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{_line_of(text, 'AzureCLI:')}: ")
    assert expected in got


def test_service_principal_with_env_loads(tmp_path: Path) -> None:
    inv = _load(_doc(_tenant(extra="    azure_auth_methods: [env, cli]\n" + AZCLI)), tmp_path)
    args = Renderer().render_tenant(inv.tenants[0]).msticpyconfig["DataProviders"]["AzureCLI"]
    assert args["Args"]["tenantId"] == inv.tenants[0].tenant_id  # defaults to the tenant's


def test_azurecli_auth_methods_point_to_where_msticpy_reads_them(tmp_path: Path) -> None:
    extra = "    azure_auth_methods: [env]\n" + AZCLI + "        auth_methods: [cli]\n"
    text = _doc(_tenant(extra=extra))
    [got] = _problems(text, tmp_path)
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{_line_of(text, 'auth_methods: [cli]')}")
    assert "never reads AzureCLI auth_methods" in got and "azure_auth_methods" in got


# --- shared vaults ---------------------------------------------------------------------------


def test_two_tenants_writing_one_secret_are_refused_naming_both(tmp_path: Path) -> None:
    # same vault, same source, no prefix (other analysts: a user folder is claimed once)
    text = _doc(_tenant(), _tenant(name="fabrikam", users="[bob]"))
    [got] = _problems(text, tmp_path)
    line = _line_of(text, "name: fabrikam")
    assert got.startswith(f"{tmp_path / 'inventory.yaml'}:{line}: ")
    assert "'contoso'" in got and "'fabrikam'" in got and "secret_prefix" in got


def test_two_tenants_sharing_a_vault_with_prefixes_load(tmp_path: Path) -> None:
    prefixed = _tenant(name="fabrikam", extra="    secret_prefix: fab\n", users="[bob]")
    inv = _load(_doc(_tenant(), prefixed), tmp_path)
    assert len(inv.tenants) == 2


# --- item 6 (and msticpy's msi warning): warnings, not failures --------------------------------


def test_env_store_and_nbuser_mode_warn_for_tenants_with_users(tmp_path: Path) -> None:
    defaults = "  secret_store: env\n  kernel_mode: nbuser\n"
    text = _doc(_tenant(), _tenant(name="fabrikam", vault="kv-fab", users="[]"), defaults=defaults)
    inv = _load(text, tmp_path)
    path = tmp_path / "inventory.yaml"
    assert inv.warning_lines() == [
        f"warning: {path}:{_line_of(text, 'secret_store')}: defaults.secret_store: tenant "
        "contoso: secret_store: env: nothing sets these environment variables on an Azure ML "
        "compute instance, so msticpy finds no secrets there; use keyvault for analysts on "
        "Azure ML",
        f"warning: {path}:{_line_of(text, 'kernel_mode')}: defaults.kernel_mode: tenant "
        "contoso: kernel_mode: nbuser: msticpy 2.10 and later no longer runs "
        "nbuser_settings.py (it warns at every notebook start); use kernel",
    ]


def test_msi_before_cli_warns_at_the_methods_line(tmp_path: Path) -> None:
    text = _doc(_tenant(extra="    azure_auth_methods: [msi, cli]\n"))
    [got] = _load(text, tmp_path).warning_lines()
    line = _line_of(text, "azure_auth_methods")
    assert got.startswith(f"warning: {tmp_path / 'inventory.yaml'}:{line}: ")
    assert "msi comes before cli and devicecode" in got


def test_the_example_has_no_warnings() -> None:
    assert load_inventory(EXAMPLE).warnings == ()


@pytest.mark.parametrize(
    "methods, warns",
    [
        (["msi", "cli"], True),
        (["cli", "msi"], False),
        (["devicecode", "msi", "cli"], False),
        (["msi"], True),
        (["env"], True),  # msticpy warns here too (no cli, no devicecode, no msi)
        (["env", "cli"], False),
        ([], False),
    ],
)
def test_msi_order_rule_table(methods: list[str], warns: bool) -> None:
    # Cross-checked against msticpy's own function in tests/render/test_msticpy_loaders.py.
    assert msticpy_warns_msi_order(methods) is warns


def test_onboard_converges_for_a_tenant_without_users(tmp_path: Path) -> None:
    """Secrets are pushed, no user folder is written, verify matches (local emulator)."""
    path = tmp_path / "inventory.yaml"
    path.write_text(_doc(_tenant(users="[]")))
    env = {"VT_KEY": "DEMO-VT-KEY", "MSTICPY_PROVISION_LOCAL_DIR": str(tmp_path / "local")}
    res = run_invoke("onboard", "--local", "-i", str(path), env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Applied: 1 created" in res.stdout
    assert "Verify: 1 of 1 tenants match the inventory" in res.stdout
    assert "Traceback" not in res.stderr
