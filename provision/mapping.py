"""From a tenant to the data msticpy will read: msticpyconfig content, config.json, secret names.

The secret names are the contract with the apply step: for every secret setting the rendered
msticpyconfig holds `{KeyVault: null}` (or `{KeyVault: "<prefix>-<name>"}`), and msticpy resolves
it (msticpy/auth/secret_settings.py, `SecretsClient._get_kv_vault_and_name`) to the vault named in
the `KeyVault.VaultName` setting and a secret named after the setting's dotted path with every
character outside `[0-9a-zA-Z-]` replaced by `-`. `secret_pushes` computes exactly those names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provision.inventory import SentinelWorkspace, Tenant, XForceArgs

# msticpy's section name -> its `Provider:` id and default `Primary` (mpconfig_defaults.yaml).
TI_PROVIDER_IDS: dict[str, tuple[str, bool]] = {
    "OTX": ("OTX", True),
    "VirusTotal": ("VirusTotal", True),
    "XForce": ("XForce", False),
    "AzureSentinel": ("AzSTI", False),
    "OpenPageRank": ("OPR", False),
    "TorExitNodes": ("Tor", False),
    "GreyNoise": ("GreyNoise", True),
    "RiskIQ": ("RiskIQ", True),
    "IntSights": ("IntSights", True),
    "Pulsedive": ("Pulsedive", False),
    "IPQualityScore": ("IPQualityScore", False),
    "BinaryEdge": ("BinaryEdge", False),
    "AbuseIPDB": ("AbuseIPDB", False),
}
# inventory arg name -> msticpy arg name
_ARG_NAMES = {
    "auth_key": "AuthKey",
    "api_id": "ApiID",
    "use_vt3_private_api": "UseVT3PrivateAPI",
    "workspace_id": "WorkspaceID",
    "tenant_id": "TenantID",
}
# geoip provider -> (msticpy OtherProviders section, Provider id)
GEOIP_SECTIONS = {"GeoLiteLookup": "GeoIPLite", "IPStackLookup": "IPStack"}
COMPUTE_USERS_ROOT = "/home/azureuser/cloudfiles/code/Users"


def format_kv_name(setting_path: str) -> str:
    """msticpy's secret-name rule: every char outside [0-9a-zA-Z-] becomes '-'."""
    return re.sub("[^0-9a-zA-Z-]", "-", setting_path)


@dataclass(frozen=True)
class SecretSetting:
    """A secret-bearing msticpy setting and where its value comes from."""

    setting_path: str  # dotted msticpy path, e.g. TIProviders.VirusTotal.Args.AuthKey
    source: str  # env:NAME or file:PATH (relative to the inventory's folder)


@dataclass(frozen=True)
class SecretPush:
    """One Key Vault secret the apply step writes: exactly what msticpy will look up."""

    tenant: str
    vault: str
    name: str
    source: str
    setting_path: str


def secret_settings(t: Tenant) -> list[SecretSetting]:
    """Every secret-bearing setting of the tenant, in msticpyconfig order."""
    out: list[SecretSetting] = []
    for section, entry in _ti_entries(t):
        args = getattr(entry, "args", None)
        if args is None:
            continue
        for field in type(args).model_fields:
            value = getattr(args, field)
            if isinstance(value, str) and _is_secret_field(type(args), field):
                out.append(SecretSetting(f"TIProviders.{section}.Args.{_ARG_NAMES[field]}", value))
    if t.geoip is not None:
        section = GEOIP_SECTIONS[t.geoip.provider]
        out.append(SecretSetting(f"OtherProviders.{section}.Args.AuthKey", t.geoip.auth_key))
    dp = t.data_providers
    if dp.AzureCLI is not None and dp.AzureCLI.client_secret:
        out.append(
            SecretSetting("DataProviders.AzureCLI.Args.clientSecret", dp.AzureCLI.client_secret)
        )
    for name in ("MicrosoftDefender", "MicrosoftGraph"):
        app = getattr(dp, name)
        if app is not None:
            out.append(SecretSetting(f"DataProviders.{name}.Args.ClientSecret", app.client_secret))
    if dp.Splunk is not None:
        out.append(SecretSetting("DataProviders.Splunk.Args.password", dp.Splunk.password))
    return out


def _is_secret_field(model: type[Any], field: str) -> bool:
    """AuthKey is always a secret; ApiID only for XForce (RiskIQ's and IntSights' are user ids)."""
    return field == "auth_key" or (field == "api_id" and model is XForceArgs)


def secret_name(t: Tenant, setting_path: str) -> str:
    """The Key Vault secret name msticpy resolves for this setting of this tenant."""
    base = format_kv_name(setting_path)
    return format_kv_name(f"{t.secret_prefix}-{base}") if t.secret_prefix else base


def secret_reference(t: Tenant, s: SecretSetting) -> dict[str, Any]:
    """The msticpyconfig value that stands in for the secret."""
    if t.secret_store == "env":  # noqa: S105 (a storage mode, not a password)
        return {"EnvironmentVar": env_var_name(s)}
    if t.secret_prefix:
        return {"KeyVault": secret_name(t, s.setting_path)}
    return {"KeyVault": None}


def env_var_name(s: SecretSetting) -> str:
    """secret_store env: the variable the kernel must have (the env: name, or one derived)."""
    if s.source.startswith("env:"):
        return s.source[4:]
    return "MSTICPY_" + re.sub("[^0-9A-Za-z]", "_", s.setting_path).upper()


def secret_pushes(t: Tenant) -> list[SecretPush]:
    """The (vault, name, source) triples apply writes; empty when secrets live in env vars."""
    if t.secret_store != "keyvault":  # noqa: S105 (a storage mode, not a password)
        return []
    return [
        SecretPush(
            tenant=t.name,
            vault=t.key_vault,
            name=secret_name(t, s.setting_path),
            source=s.source,
            setting_path=s.setting_path,
        )
        for s in secret_settings(t)
    ]


def _ti_entries(t: Tenant) -> list[tuple[str, Any]]:
    return [
        (name, getattr(t.ti_providers, name))
        for name in type(t.ti_providers).model_fields
        if getattr(t.ti_providers, name) is not None
    ]


# --- msticpyconfig content ----------------------------------------------------------------------


def _workspace(t: Tenant, ws: SentinelWorkspace) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "WorkspaceId": ws.workspace_id,
        "TenantId": t.tenant_id,
        "WorkspaceName": ws.workspace_name,
    }
    if ws.subscription_id:
        entry["SubscriptionId"] = ws.subscription_id
    if ws.resource_group:
        entry["ResourceGroup"] = ws.resource_group
    return entry


def build_msticpyconfig(t: Tenant) -> dict[str, Any]:
    """The settings msticpy should read for this tenant, as plain data (the render's intent)."""
    secrets = {s.setting_path: secret_reference(t, s) for s in secret_settings(t)}
    cfg: dict[str, Any] = {}
    workspaces = {"Default": _workspace(t, t.default_workspace)}
    workspaces.update({ws.name: _workspace(t, ws) for ws in t.sentinel})
    cfg["AzureSentinel"] = {"Workspaces": workspaces}

    ti: dict[str, Any] = {}
    for section, entry in _ti_entries(t):
        provider_id, primary_default = TI_PROVIDER_IDS[section]
        item: dict[str, Any] = {}
        args: dict[str, Any] = {}
        model_args = getattr(entry, "args", None)
        if section == "AzureSentinel" and model_args is not None:
            args = {
                "WorkspaceID": model_args.workspace_id or t.default_workspace.workspace_id,
                "TenantID": model_args.tenant_id or t.tenant_id,
            }
        elif model_args is not None:
            for field in type(model_args).model_fields:
                value = getattr(model_args, field)
                if value is None:
                    continue
                path = f"TIProviders.{section}.Args.{_ARG_NAMES[field]}"
                args[_ARG_NAMES[field]] = secrets.get(path, value)
        if args:
            item["Args"] = args
        item["Primary"] = entry.primary if entry.primary is not None else primary_default
        item["Provider"] = provider_id
        ti[section] = item
    if ti:
        cfg["TIProviders"] = ti

    if t.geoip is not None:
        section = GEOIP_SECTIONS[t.geoip.provider]
        geo_args: dict[str, Any] = {"AuthKey": secrets[f"OtherProviders.{section}.Args.AuthKey"]}
        if t.geoip.provider == "GeoLiteLookup":
            geo_args["DBFolder"] = t.geoip.db_folder or "~/.msticpy"
        cfg["OtherProviders"] = {section: {"Args": geo_args, "Provider": t.geoip.provider}}

    data = _data_providers(t, secrets)
    if data:
        cfg["DataProviders"] = data

    if t.secret_store == "keyvault":  # noqa: S105 (a storage mode, not a password)
        cfg["KeyVault"] = {
            "TenantId": t.tenant_id,
            "SubscriptionId": t.subscription_id,
            "ResourceGroup": t.resource_group,
            "VaultName": t.key_vault,
            "Authority": t.cloud,
            "UseKeyring": t.use_keyring,
        }
    azure: dict[str, Any] = {"cloud": t.cloud}
    if t.azure_auth_methods:
        azure["auth_methods"] = list(t.azure_auth_methods)
    cfg["Azure"] = azure

    defaults = _user_defaults(t)
    if defaults:
        cfg["UserDefaults"] = defaults
    return cfg


def _data_providers(t: Tenant, secrets: dict[str, Any]) -> dict[str, Any]:
    dp = t.data_providers
    out: dict[str, Any] = {}
    if dp.AzureCLI is not None:
        cli = dp.AzureCLI
        args: dict[str, Any] = {}
        if cli.auth_methods:
            args["auth_methods"] = list(cli.auth_methods)
        if cli.client_id:
            args["clientId"] = cli.client_id
        if cli.tenant_id:
            args["tenantId"] = cli.tenant_id
        if cli.client_secret:
            args["clientSecret"] = secrets["DataProviders.AzureCLI.Args.clientSecret"]
        out["AzureCLI"] = {"Args": args}
    for name in ("MicrosoftDefender", "MicrosoftGraph"):
        app = getattr(dp, name)
        if app is None:
            continue
        app_args: dict[str, Any] = {
            "ClientId": app.client_id,
            "TenantId": app.tenant_id or t.tenant_id,
            "ClientSecret": secrets[f"DataProviders.{name}.Args.ClientSecret"],
        }
        if app.user_name:
            app_args["UserName"] = app.user_name
        out[name] = {"Args": app_args}
    if dp.Splunk is not None:
        sp = dp.Splunk
        sp_args: dict[str, Any] = {"host": sp.host}
        if sp.username:
            sp_args["username"] = sp.username
        sp_args["password"] = secrets["DataProviders.Splunk.Args.password"]
        if sp.port:
            sp_args["port"] = sp.port
        out["Splunk"] = {"Args": sp_args}
    return out


def _user_defaults(t: Tenant) -> dict[str, Any]:
    auto = t.autoload
    out: dict[str, Any] = {}
    qps: dict[str, Any] = {}
    for qp in auto.query_providers:
        opts: dict[str, Any] = {"connect": qp.connect}
        if qp.alias:
            opts["alias"] = qp.alias
        if qp.provider == "AzureSentinel":
            qps.setdefault("AzureSentinel", {})[qp.workspace] = opts
        else:
            qps[qp.provider] = opts
    if qps:
        out["QueryProviders"] = qps
    comps: dict[str, Any] = {}
    c = auto.components
    if c.TILookup is not None:
        comps["TILookup"] = None
    if c.GeoIpLookup is not None:
        comps["GeoIpLookup"] = {"provider": c.GeoIpLookup.provider}
    for name in ("AzureData", "AzureSentinelAPI"):
        comp = getattr(c, name)
        if comp is None:
            continue
        entry: dict[str, Any] = {"connect": comp.connect}
        if comp.auth_methods:
            entry["auth_methods"] = list(comp.auth_methods)
        if name == "AzureSentinelAPI":
            entry["res_id"] = getattr(comp, "res_id", None) or sentinel_resource_id(t)
        comps[name] = entry
    if c.Notebooklets is not None:
        comps["Notebooklets"] = {
            "query_provider": {"AzureSentinel": {"workspace": c.Notebooklets.workspace}}
        }
    if c.Pivot is not None:
        comps["Pivot"] = None
    if comps:
        out["LoadComponents"] = comps
    return out


def sentinel_resource_id(t: Tenant) -> str:
    """ARM id of the default Sentinel (Log Analytics) workspace."""
    ws = t.default_workspace
    return (
        f"/subscriptions/{ws.subscription_id or t.subscription_id}/resourceGroups/"
        f"{ws.resource_group or t.resource_group}/providers/Microsoft.OperationalInsights/"
        f"workspaces/{ws.workspace_name}"
    )


def build_config_json(t: Tenant) -> dict[str, Any]:
    """Sentinel's config.json for the tenant's default workspace."""
    ws = t.default_workspace
    return {
        "tenant_id": t.tenant_id,
        "subscription_id": ws.subscription_id or t.subscription_id,
        "resource_group": ws.resource_group or t.resource_group,
        "workspace_id": ws.workspace_id,
        "workspace_name": ws.workspace_name,
    }


def compute_user_folder(alias: str) -> str:
    """Where the user's share folder is mounted on a compute instance."""
    return f"{COMPUTE_USERS_ROOT}/{alias}"
