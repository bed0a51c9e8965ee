"""msticpy itself reads the rendered msticpyconfig.yaml: what it builds is what the inventory says.

Each test renders a tenant of the example (secrets as environment references, so that msticpy
resolves them without a Key Vault), loads the file as msticpy's settings and runs msticpy's own
code on it: the GeoLite download (msticpy/context/geoip.py), the component loaders
(msticpy/init/user_config.py), az_connect's argument resolution (msticpy/auth/azure_auth.py),
the Azure ML auth-order check (msticpy/init/azure_ml_tools.py) and WorkspaceConfig
(msticpy/common/wsconfig.py). Nothing here talks to Azure.
"""

from __future__ import annotations

import base64
import http.server
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from support import EXAMPLE

from provision.inventory.load import load_inventory_text
from provision.inventory.model import Tenant
from provision.inventory.rules import msticpy_warns_msi_order
from provision.msticpy_contract.secret_names import env_var_name, secret_settings
from provision.msticpy_contract.settings import sentinel_resource_id
from provision.render import Renderer

AZURE_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET")


def _tenant(name: str, edit: Callable[[str], str] = lambda text: text) -> Tenant:
    text = edit(EXAMPLE.read_text()).replace("secret_store: keyvault", "secret_store: env")
    inv = load_inventory_text(text, EXAMPLE)
    return next(t for t in inv.tenants if t.name == name)


def _fake_value(setting_path: str) -> str:
    return "fake-" + setting_path.rsplit(".", 2)[-2].lower()


Load = Callable[[Tenant], dict[str, Any]]


@pytest.fixture
def msticpy_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Load]:
    """Load a tenant's rendered msticpyconfig.yaml as msticpy's settings (hermetic)."""
    from msticpy.common import pkg_config

    monkeypatch.setenv("HOME", str(tmp_path))  # DBFolder ~/.msticpy stays in the test folder
    monkeypatch.chdir(tmp_path)
    for var in AZURE_VARS:  # az_connect writes these into os.environ itself
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)

    def load(t: Tenant) -> dict[str, Any]:
        rendered = Renderer().render_tenant(t)
        folder = tmp_path / t.name
        folder.mkdir(exist_ok=True)
        for name, f in rendered.tenant_files.items():
            (folder / name).write_bytes(f.content)
        for s in secret_settings(t):
            monkeypatch.setenv(env_var_name(s), _fake_value(s.setting_path))
        monkeypatch.setenv("MSTICPYCONFIG", str(folder / "msticpyconfig.yaml"))
        pkg_config.refresh_config()
        cfg: dict[str, Any] = yaml.safe_load((folder / "msticpyconfig.yaml").read_text())
        return cfg

    yield load
    monkeypatch.undo()
    pkg_config.refresh_config()


# --- item 1: GeoLite downloads with AccountID + AuthKey ---------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(self.headers.get("Authorization"))
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def maxmind() -> Iterator[str]:
    """A local stand-in for MaxMind's download URL that records the Authorization header."""
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/geoip_download"
    server.shutdown()
    server.server_close()


def _try_geolite_download(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from msticpy.common.exceptions import MsticpyUserConfigError
    from msticpy.context.geoip import GeoLiteLookup

    # GeoLiteLookup is a per-arguments singleton wrapper: a fresh instance of the class itself,
    # so that nothing read by an earlier test is reused.
    geolite = GeoLiteLookup.wrapped_cls
    monkeypatch.setattr(geolite, "_MAXMIND_DOWNLOAD", url)
    lookup = geolite()
    with pytest.raises(MsticpyUserConfigError):  # our stand-in serves no database
        lookup._check_initialized()


def test_geolite_downloads_with_the_rendered_account_id_and_key(
    msticpy_settings: Load, maxmind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    msticpy_settings(_tenant("contoso"))
    _try_geolite_download(maxmind, monkeypatch)
    key = _fake_value("OtherProviders.GeoIPLite.Args.AuthKey")
    assert _Recorder.seen == ["Basic " + base64.b64encode(f"123456:{key}".encode()).decode()]


def test_without_account_id_geolite_never_even_asks(
    msticpy_settings: Load, maxmind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What tenants got before account_id: msticpy fails before sending any request."""
    cfg = msticpy_settings(_tenant("contoso"))
    del cfg["OtherProviders"]["GeoIPLite"]["Args"]["AccountID"]
    path = Path(os.environ["MSTICPYCONFIG"])
    path.write_text(yaml.safe_dump(cfg))
    from msticpy.common import pkg_config

    pkg_config.refresh_config()
    _try_geolite_download(maxmind, monkeypatch)
    assert _Recorder.seen == []


# --- item 2: the component loaders build what the inventory names ------------------------------


def _components(cfg: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = cfg["UserDefaults"]["LoadComponents"]
    return components


def test_ipstack_tenant_gets_an_ipstack_geoip_object(msticpy_settings: Load) -> None:
    from msticpy.context.geoip import IPStackLookup
    from msticpy.init import user_config

    cfg = msticpy_settings(
        _tenant(
            "fabrikam",
            lambda text: text.replace(
                "      - {provider: AzureSentinel, workspace: Fabrikam, alias: fab}\n",
                "      - {provider: AzureSentinel, workspace: Fabrikam, alias: fab}\n"
                "      components:\n        GeoIpLookup: {provider: IPStackLookup}\n",
            ),
        )
    )
    settings = _components(cfg)["GeoIpLookup"]
    name, geoip = user_config._load_geoip_lookup(dict(settings))
    assert name == "geoip" and isinstance(geoip, IPStackLookup)
    # The class name, as rendered before, loads nothing (msticpy wants "IpStackLookup").
    assert user_config._load_geoip_lookup({"provider": "IPStackLookup"}) == (None, None)


def test_every_rendered_component_is_built_by_msticpys_loader(
    msticpy_settings: Load, monkeypatch: pytest.MonkeyPatch, resolved: list[dict[str, Any]]
) -> None:
    from msticpy.context.azure.azure_data import AzureData
    from msticpy.context.azure.sentinel_core import MicrosoftSentinel
    from msticpy.context.geoip import GeoLiteLookup
    from msticpy.context.tilookup import TILookup
    from msticpy.init import user_config

    t = _tenant(
        "contoso",
        lambda text: text.replace(
            "AzureData: {auth_methods: [cli, msi], connect: true}",
            "AzureData: {auth_methods: [cli, msi], connect: false}",
        ),
    )
    cfg = msticpy_settings(t)
    # msticnb is not installed here: a stand-in records what msticpy's loader passes to init.
    notebooklets: dict[str, Any] = {}
    fake_nb = types.ModuleType("msticnb")
    fake_nb.init = lambda **kwargs: notebooklets.update(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "msticnb", fake_nb)

    built = user_config._load_components(cfg["UserDefaults"], namespace={})
    assert set(_components(cfg)) == {
        "TILookup",
        "GeoIpLookup",
        "AzureData",
        "AzureSentinelAPI",
        "Notebooklets",
    }
    assert isinstance(built["ti_lookup"], TILookup)
    assert set(built["ti_lookup"].loaded_providers) >= {"VirusTotal", "OTX", "XForce"}
    assert isinstance(built["geoip"], GeoLiteLookup.wrapped_cls)  # a singleton wrapper
    assert isinstance(built["az_data"], AzureData)
    assert isinstance(built["azs_api"], MicrosoftSentinel)
    assert built["azs_api"].default_resource_id.lower() == sentinel_resource_id(t).lower()
    assert built["nb"] is fake_nb
    assert notebooklets["query_provider"] == "AzureSentinel"
    assert notebooklets["AzureSentinel_workspace"] == "ContosoProd"
    assert None not in built  # no component silently loaded nothing


# --- item 3: az_connect's methods, and who a connection runs as ---------------------------------


class _NoNetwork(Exception):
    pass


class _Unusable:
    """Stands in for the credential chain: these tests stop before any token is needed."""

    credentials: tuple[Any, ...] = ()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise _NoNetwork


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What msticpy's az_connect hands to its credential builder, `az_connect_core`.

    az_connect resolves the methods and tenant (call, else Azure.auth_methods / Azure.tenant_id)
    and exports the AzureCLI service principal, then calls msticpy's `az_connect_core`, whose
    builders fetch tokens at once (az CLI, IMDS). Replacing that msticpy hook records the
    resolved arguments without any Azure call; the resolution itself is msticpy's own code.
    """
    from msticpy.auth import azure_auth
    from msticpy.auth.azure_auth_core import AzCredentials

    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return AzCredentials(_Unusable(), _Unusable())

    monkeypatch.setattr(azure_auth, "az_connect_core", record)
    return calls


def test_service_principal_tenant_exports_azurecli_through_env(
    msticpy_settings: Load, resolved: list[dict[str, Any]]
) -> None:
    from msticpy.auth.azure_auth import az_connect

    t = _tenant("fabrikam")
    msticpy_settings(t)
    az_connect()  # no arguments: methods and tenant come from the rendered file
    assert t.data_providers.AzureCLI is not None
    assert os.environ["AZURE_CLIENT_ID"] == t.data_providers.AzureCLI.client_id
    assert os.environ["AZURE_TENANT_ID"] == t.tenant_id
    secret = _fake_value("DataProviders.AzureCLI.Args.clientSecret")
    assert os.environ["AZURE_CLIENT_SECRET"] == secret
    assert [c["auth_methods"] for c in resolved] == [["env", "cli", "msi"]]


def test_analyst_tenant_connects_as_the_analyst(
    msticpy_settings: Load, resolved: list[dict[str, Any]]
) -> None:
    from msticpy.auth.azure_auth import az_connect

    t = _tenant("contoso")
    msticpy_settings(t)
    az_connect()
    assert not any(os.environ.get(var) for var in AZURE_VARS)
    assert resolved == [
        {
            "auth_methods": ["cli", "devicecode", "msi"],
            "tenant_id": t.tenant_id,
            "silent": False,
            "cloud": None,
        }
    ]


def test_msticpy_ignores_auth_methods_under_azurecli(
    msticpy_settings: Load, resolved: list[dict[str, Any]]
) -> None:
    """Why the inventory refuses AzureCLI auth_methods: msticpy falls back to its defaults, env
    first, and so runs as the service principal although the file asked for cli only."""
    from msticpy.auth.azure_auth import az_connect
    from msticpy.common import pkg_config

    cfg = msticpy_settings(_tenant("fabrikam"))
    del cfg["Azure"]["auth_methods"]
    cfg["DataProviders"]["AzureCLI"]["Args"]["auth_methods"] = ["cli"]
    Path(os.environ["MSTICPYCONFIG"]).write_text(yaml.safe_dump(cfg))
    pkg_config.refresh_config()
    az_connect()
    assert resolved[0]["auth_methods"][0] == "env"
    assert os.environ["AZURE_CLIENT_ID"] == cfg["DataProviders"]["AzureCLI"]["Args"]["clientId"]


@pytest.mark.parametrize(
    "methods",
    [
        ["msi", "cli"],
        ["cli", "msi"],
        ["msi", "devicecode", "cli"],
        ["devicecode", "msi"],
        ["env", "msi", "cli"],
        ["env"],
        ["cli"],
        ["interactive", "msi"],
        ["cli", "devicecode", "msi"],
    ],
)
def test_msi_order_warning_matches_msticpys_check(
    methods: list[str], msticpy_settings: Load, caplog: pytest.LogCaptureFixture
) -> None:
    from msticpy.init import azure_ml_tools

    msticpy_settings(
        _tenant("contoso", lambda text: text.replace("[cli, devicecode, msi]", str(methods)))
    )
    with caplog.at_level(logging.WARNING, logger=azure_ml_tools.__name__):
        azure_ml_tools._check_aml_auth_method_order()
    msticpy_warned = "MSI authentication is higher priority" in caplog.text
    assert msticpy_warns_msi_order(methods) is msticpy_warned


# --- item 4: guest analysts connect to the customer's tenant -----------------------------------


def test_azure_data_and_sentinel_api_use_the_customers_tenant(
    msticpy_settings: Load, resolved: list[dict[str, Any]]
) -> None:
    """A guest analyst's identity has another home tenant: both components must name ours."""
    from msticpy.init import user_config

    t = _tenant("contoso", lambda text: text.replace("connect: false}", "connect: true}"))
    cfg = msticpy_settings(t)
    components = _components(cfg)
    user_config._load_azure_data(dict(components["AzureData"]))
    with pytest.raises(_NoNetwork):  # the Sentinel API asks for its token right away
        user_config._load_azsent_api(dict(components["AzureSentinelAPI"]))
    assert [(c["auth_methods"], c["tenant_id"]) for c in resolved] == [
        (["cli", "msi"], t.tenant_id),
        (["cli", "msi"], t.tenant_id),
    ]


# --- item 5: the Sentinel workspace's own coordinates -----------------------------------------


def test_workspace_config_reads_each_workspaces_own_coordinates(
    msticpy_settings: Load, tmp_path: Path
) -> None:
    from msticpy.common.wsconfig import WorkspaceConfig
    from msticpy.context.azure.sentinel_core import MicrosoftSentinel

    t = _tenant("contoso")
    msticpy_settings(t)
    prod, dev = t.sentinel
    default = WorkspaceConfig()
    assert (default["SubscriptionId"], default["ResourceGroup"], default["WorkspaceName"]) == (
        t.subscription_id,
        "rg-contoso-sentinel",  # not the ML workspace's rg-contoso-soc
        prod.workspace_name,
    )
    named = WorkspaceConfig(workspace="ContosoDev")
    assert (named["SubscriptionId"], named["ResourceGroup"]) == (
        dev.subscription_id,
        dev.resource_group,
    )
    from_json = WorkspaceConfig(config_file=str(tmp_path / "contoso" / "config.json"))
    assert from_json["ResourceGroup"] == "rg-contoso-sentinel"
    assert from_json["WorkspaceId"] == prod.workspace_id
    sentinel = MicrosoftSentinel()  # defaults from the Default workspace entry
    assert sentinel.default_resource_group == "rg-contoso-sentinel"
    assert sentinel.default_subscription_id == t.subscription_id
