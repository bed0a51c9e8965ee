"""Rendering: safe literals for any text, parse-back checks, sandboxed templates, no secrets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLE, run_invoke

from provision.errors import UserInputError
from provision.inventory.load import load_inventory_text
from provision.render import Renderer, default_templates_dir, render_tenants

# Any text YAML can carry (no surrogates, no NUL), with the characters that break naive templating.
NASTY = [
    "'",
    '"',
    ":",
    "#",
    "{{ 7*7 }}",
    "{% raw %}",
    "- x",
    "* y",
    "&a",
    "!tag",
    "%x",
    "\\",
    "$(id)",
    "`id`",
    "; rm -rf /",
    "  ",
    "null",
    "true",
    "0x1",
]
free_text = st.one_of(
    st.text(
        # Control characters and line separators are refused by the inventory (test_inventory).
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    ),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=6).map("".join),
)


def _inventory(**fields: str) -> str:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    contoso = doc["tenants"][0]
    contoso["data_providers"] = {"Splunk": {"host": fields["host"], "password": "env:SPLUNK"}}
    contoso["geoip"]["db_folder"] = fields["db_folder"]
    contoso["ti_providers"]["RiskIQ"] = {
        "args": {"api_id": fields["api_id"], "auth_key": "env:RISKIQ_KEY"}
    }
    contoso["data_providers"]["MicrosoftDefender"] = {
        "client_id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        "client_secret": "env:MDE_SECRET",
        "user_name": fields["user_name"],
    }
    contoso["autoload"]["components"]["AzureSentinelAPI"]["res_id"] = fields["res_id"]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=False)  # escapes NEL & co.


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    host=free_text,
    db_folder=free_text,
    api_id=free_text,
    user_name=free_text,
    res_id=free_text,
)
def test_any_free_text_renders_to_files_that_parse_back(
    host: str, db_folder: str, api_id: str, user_name: str, res_id: str
) -> None:
    text = _inventory(
        host=host,
        db_folder=db_folder,
        api_id=api_id,
        user_name=user_name,
        res_id=res_id,
    )
    inv = load_inventory_text(text, EXAMPLE)
    r = RENDERER.render_tenant(inv.tenants[0])
    cfg = yaml.safe_load(r.tenant_files["msticpyconfig.yaml"].content)
    assert cfg["DataProviders"]["Splunk"]["Args"]["host"] == host
    assert cfg["OtherProviders"]["GeoIPLite"]["Args"]["DBFolder"] == db_folder
    assert cfg["TIProviders"]["RiskIQ"]["Args"]["ApiID"] == api_id
    assert cfg["DataProviders"]["MicrosoftDefender"]["Args"]["UserName"] == user_name
    assert cfg["UserDefaults"]["LoadComponents"]["AzureSentinelAPI"]["res_id"] == res_id
    assert json.loads(r.tenant_files["config.json"].content)["workspace_name"] == "law-contoso-prod"


RENDERER = Renderer()


def test_rendered_files_hold_references_not_values(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_invoke("render", "-i", str(EXAMPLE), "-o", str(out))
    assert res.returncode == 0, res.stderr
    values = [p.read_text().strip() for p in (EXAMPLE.parent / "secrets").iterdir()]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 9
    for f in files:
        body = f.read_text()
        for v in values:
            assert v not in body, f
        assert f.stat().st_mode & 0o077 == 0, f"{f} should be private (0600)"
    cfg = yaml.safe_load((out / "contoso" / "msticpyconfig.yaml").read_text())
    # The secret's name is written out: msticpy's Kusto driver skips {KeyVault: null}
    assert cfg["TIProviders"]["VirusTotal"]["Args"]["AuthKey"] == {
        "KeyVault": "TIProviders-VirusTotal-Args-AuthKey"
    }
    assert cfg["KeyVault"]["VaultName"] == "kv-contoso-nb"
    assert (out / "contoso" / "users" / "carol.jones" / "msticpy-provision-startup.sh").exists()


def test_env_secret_store_renders_environment_references() -> None:
    text = EXAMPLE.read_text().replace("secret_store: keyvault", "secret_store: env")
    inv = load_inventory_text(text, EXAMPLE)
    r = RENDERER.render_tenant(inv.tenants[0])
    cfg = yaml.safe_load(r.tenant_files["msticpyconfig.yaml"].content)
    assert r.pushes == []
    assert "KeyVault" not in cfg
    auth = cfg["TIProviders"]["VirusTotal"]["Args"]["AuthKey"]
    assert auth == {"EnvironmentVar": "MSTICPY_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY"}


def test_nbuser_mode_renders_nbuser_settings() -> None:
    text = EXAMPLE.read_text().replace("kernel_mode: kernel ", "kernel_mode: nbuser ")
    inv = load_inventory_text(text, EXAMPLE)
    r = RENDERER.render_tenant(inv.tenants[0])
    nb = r.user_files["alice"]["nbuser_settings.py"].content.decode()
    scope: dict[str, Any] = {}
    import os

    saved = os.environ.get("MSTICPYCONFIG")
    try:
        exec(compile(nb, "nbuser_settings.py", "exec"), scope)  # our own rendered file
        assert os.environ["MSTICPYCONFIG"] == (
            "/home/azureuser/cloudfiles/code/Users/alice/msticpyconfig.yaml"
        )
    finally:
        if saved is None:
            os.environ.pop("MSTICPYCONFIG", None)
        else:
            os.environ["MSTICPYCONFIG"] = saved


def _custom_templates(tmp_path: Path, name: str, body: str) -> Path:
    d = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), d)
    (d / name).write_text(body)
    return d


@pytest.mark.parametrize(
    "body, expected",
    [
        ("{{ ''.__class__.__mro__ }}", "template error"),
        ("{{ cfg.__class__ }}", "template error"),
        ("{% import 'os' as os %}{{ os }}", "template"),
        ("{% include '/etc/passwd' %}", "template"),
        ("{{ lipsum.__globals__ }}", "template error"),
        ("{{ undefined_name }}", "template error"),
        ("{% for %}", "template syntax error"),
    ],
)
def test_hostile_or_broken_templates_fail_clearly(tmp_path: Path, body: str, expected: str) -> None:
    d = _custom_templates(tmp_path, "config.json.j2", body + "\n")
    inv = load_inventory_text(EXAMPLE.read_text(), EXAMPLE)
    with pytest.raises(UserInputError) as info:
        render_tenants(inv, [], d)
    msg = str(info.value)
    assert expected in msg and "config.json.j2" in msg
    assert "root:" not in msg


def test_template_that_changes_values_is_refused(tmp_path: Path) -> None:
    d = _custom_templates(
        tmp_path,
        "msticpyconfig.yaml.j2",
        "AzureSentinel: {{ cfg.AzureSentinel | yaml }}\nExtra: 1\n",
    )
    inv = load_inventory_text(EXAMPLE.read_text(), EXAMPLE)
    with pytest.raises(UserInputError, match="does not carry the intended data"):
        render_tenants(inv, [], d)


def test_template_symlink_outside_folder_is_refused(tmp_path: Path) -> None:
    d = _custom_templates(tmp_path, "config.json.j2", "{{ config | json }}\n")
    (d / "config.json.j2").unlink()
    (tmp_path / "elsewhere.j2").write_text("{{ config | json }}\n")
    (d / "config.json.j2").symlink_to(tmp_path / "elsewhere.j2")
    with pytest.raises(UserInputError, match="leads outside the templates folder"):
        Renderer(d)


def test_render_writes_nothing_when_any_tenant_fails(tmp_path: Path) -> None:
    d = _custom_templates(
        tmp_path,
        "config.json.j2",
        "{% if tenant.name == 'fabrikam' %}{{ nope }}{% endif %}{{ config | json }}\n",
    )
    out = tmp_path / "out"
    res = run_invoke("render", "-i", str(EXAMPLE), "-o", str(out), "--templates", str(d))
    assert res.returncode == 1
    assert "tenant fabrikam" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
