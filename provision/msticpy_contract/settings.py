"""From a tenant to the settings msticpy reads: msticpyconfig.yaml content and config.json.

Section and argument names are msticpy's (msticpy/resources/mpconfig_defaults.yaml); secret
settings become references resolved by `provision.msticpy_contract.secret_names`.
"""

from __future__ import annotations

from typing import Any

from provision.inventory.model import SentinelWorkspace, Tenant
from provision.msticpy_contract.block import merge_block
from provision.msticpy_contract.secret_names import (
    ARG_NAMES,
    GEOIP_SECTIONS,
    block_reference,
    secret_reference,
    secret_settings,
    ti_entries,
)

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
COMPUTE_USERS_ROOT = "/home/azureuser/cloudfiles/code/Users"

# --- msticpyconfig content ----------------------------------------------------------------------


# The inventory's geoip provider -> the name msticpy's component loader accepts for GeoIpLookup
# (msticpy/init/user_config.py, `_load_geoip_lookup`: "GeoLiteLookup" or "IpStackLookup", with a
# lower-case p; any other name silently loads nothing).
GEOIP_LOADER_NAMES = {"GeoLiteLookup": "GeoLiteLookup", "IPStackLookup": "IpStackLookup"}


def workspace_coordinates(t: Tenant, ws: SentinelWorkspace) -> tuple[str, str]:
    """The Log Analytics workspace's subscription and resource group (the tenant's if not set)."""
    return ws.subscription_id or t.subscription_id, ws.resource_group or t.resource_group


def _workspace(t: Tenant, ws: SentinelWorkspace) -> dict[str, Any]:
    subscription, group = workspace_coordinates(t, ws)
    return {
        "WorkspaceId": ws.workspace_id,
        "TenantId": t.tenant_id,
        "WorkspaceName": ws.workspace_name,
        "SubscriptionId": subscription,
        "ResourceGroup": group,
    }


def build_msticpyconfig(t: Tenant) -> dict[str, Any]:
    """The settings msticpy should read for this tenant, as plain data (the render's intent)."""
    secrets = {s.setting_path: secret_reference(t, s) for s in secret_settings(t)}
    cfg: dict[str, Any] = {}
    workspaces = {"Default": _workspace(t, t.default_workspace)}
    workspaces.update({ws.name: _workspace(t, ws) for ws in t.sentinel})
    cfg["AzureSentinel"] = {"Workspaces": workspaces}

    ti: dict[str, Any] = {}
    for section, entry in ti_entries(t):
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
                path = f"TIProviders.{section}.Args.{ARG_NAMES[field]}"
                args[ARG_NAMES[field]] = secrets.get(path, value)
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
            # Not in msticpy's schema file, but read by GeoLiteLookup (see schema.py).
            geo_args["AccountID"] = t.geoip.account_id
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
    # az_connect reads its methods and tenant here (msticpy/auth/cloud_mappings.py,
    # AzureCloudConfig); AzureData and the Sentinel API connect through it. Without tenant_id a
    # guest analyst would connect to their home tenant, not the customer's.
    azure: dict[str, Any] = {"cloud": t.cloud, "tenant_id": t.tenant_id}
    if t.azure_auth_methods:
        azure["auth_methods"] = list(t.azure_auth_methods)
    cfg["Azure"] = azure

    defaults = _user_defaults(t)
    if defaults:
        cfg["UserDefaults"] = defaults
    return merge_block(cfg, t.msticpy, block_reference(t))  # the msticpy: block wins


def _data_providers(t: Tenant, secrets: dict[str, Any]) -> dict[str, Any]:
    dp = t.data_providers
    out: dict[str, Any] = {}
    if dp.AzureCLI is not None:
        # Exported by az_connect as AZURE_CLIENT_ID/TENANT_ID/SECRET when env is an auth method.
        cli = dp.AzureCLI
        out["AzureCLI"] = {
            "Args": {
                "clientId": cli.client_id,
                "tenantId": cli.tenant_id or t.tenant_id,
                "clientSecret": secrets["DataProviders.AzureCLI.Args.clientSecret"],
            }
        }
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
        comps["GeoIpLookup"] = {"provider": GEOIP_LOADER_NAMES[c.GeoIpLookup.provider]}
    for name in ("AzureData", "AzureSentinelAPI"):
        comp = getattr(c, name)
        if comp is None:
            continue
        entry: dict[str, Any] = {"connect": comp.connect, "auth_methods": list(comp.auth_methods)}
        if name == "AzureSentinelAPI":
            entry["res_id"] = getattr(comp, "res_id", None) or sentinel_resource_id(t)
        comps[name] = entry
    if c.Notebooklets is not None:
        comps["Notebooklets"] = {
            "query_provider": {"AzureSentinel": {"workspace": c.Notebooklets.workspace}}
        }
    if comps:
        out["LoadComponents"] = comps
    return out


def sentinel_resource_id(t: Tenant) -> str:
    """ARM id of the default Sentinel (Log Analytics) workspace."""
    ws = t.default_workspace
    subscription, group = workspace_coordinates(t, ws)
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/Microsoft.OperationalInsights/workspaces/{ws.workspace_name}"
    )


def build_config_json(t: Tenant) -> dict[str, Any]:
    """Sentinel's config.json for the tenant's default workspace."""
    ws = t.default_workspace
    subscription, group = workspace_coordinates(t, ws)
    return {
        "tenant_id": t.tenant_id,
        "subscription_id": subscription,
        "resource_group": group,
        "workspace_id": ws.workspace_id,
        "workspace_name": ws.workspace_name,
    }


def compute_user_folder(alias: str) -> str:
    """Where the user's share folder is mounted on a compute instance."""
    return f"{COMPUTE_USERS_ROOT}/{alias}"
