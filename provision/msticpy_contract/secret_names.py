"""The secret names msticpy will look up for a tenant's secret settings.

The secret names are the contract with the apply step: for every secret setting the rendered
msticpyconfig holds `{KeyVault: "<secret name>"}`, the name msticpy would derive itself: the
setting's dotted path with every character outside `[0-9a-zA-Z-]` replaced by `-`, after the
tenant's `secret_prefix`. msticpy resolves a bare name to the vault named in `KeyVault.VaultName`
(msticpy/auth/secret_settings.py, `SecretsClient._get_kv_vault_and_name`). `secret_pushes`
computes exactly those names.

The name is always written out, never `{KeyVault: null}`: msticpy's Kusto driver
(msticpy/data/drivers/azure_kusto_driver.py, `_create_protected_args`) resolves a setting only
when `value.get("KeyVault")` is truthy and hands `{KeyVault: None}` to Kusto's auth as a dict,
while the readers built on `get_provider_settings` test `"KeyVault" in setting`. A name works
in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provision.inventory.expiry import ExpiringRef, SecretExpiry, expiry_of, ref_of
from provision.inventory.fields import KEYVAULT_PREFIX
from provision.inventory.model import Tenant, XForceArgs
from provision.msticpy_contract.block import block_references, is_msticpy_reference, walk

# inventory arg name -> msticpy arg name
# geoip provider -> (msticpy OtherProviders section, Provider id)
GEOIP_SECTIONS = {"GeoLiteLookup": "GeoIPLite", "IPStackLookup": "IPStack"}
ARG_NAMES = {
    "auth_key": "AuthKey",
    "api_id": "ApiID",
    "use_vt3_private_api": "UseVT3PrivateAPI",
    "workspace_id": "WorkspaceID",
    "tenant_id": "TenantID",
}


def format_kv_name(setting_path: str) -> str:
    """msticpy's secret-name rule: every char outside [0-9a-zA-Z-] becomes '-'."""
    return re.sub("[^0-9a-zA-Z-]", "-", setting_path)


@dataclass(frozen=True)
class SecretSetting:
    """A secret-bearing msticpy setting and where its value comes from."""

    setting_path: str  # dotted msticpy path, e.g. TIProviders.VirusTotal.Args.AuthKey
    source: str  # env:NAME, file:PATH (relative to the inventory's folder) or keyvault:NAME
    expiry: SecretExpiry | None = None  # the reference's own, else the tenant's secret_expiry


@dataclass(frozen=True)
class SecretPush:
    """One Key Vault secret the apply step writes: exactly what msticpy will look up."""

    tenant: str
    vault: str
    name: str
    source: str
    setting_path: str
    expiry: SecretExpiry | None = None  # its exp/nbf: provision.inventory.expiry.intended_dates


def secret_settings(t: Tenant) -> list[SecretSetting]:
    """Every secret-bearing setting of the tenant, in msticpyconfig order."""
    out: list[SecretSetting] = []

    def add(path: str, value: str | ExpiringRef) -> None:
        out.append(SecretSetting(path, ref_of(value), expiry_of(value, t.secret_expiry)))

    for section, entry in ti_entries(t):
        args = getattr(entry, "args", None)
        if args is None:
            continue
        for field in type(args).model_fields:
            value = getattr(args, field)
            if isinstance(value, str | ExpiringRef) and _is_secret_field(type(args), field):
                add(f"TIProviders.{section}.Args.{ARG_NAMES[field]}", value)
    if t.geoip is not None:
        add(f"OtherProviders.{GEOIP_SECTIONS[t.geoip.provider]}.Args.AuthKey", t.geoip.auth_key)
    dp = t.data_providers
    if dp.AzureCLI is not None and dp.AzureCLI.client_secret:
        add("DataProviders.AzureCLI.Args.clientSecret", dp.AzureCLI.client_secret)
    for name in ("MicrosoftDefender", "MicrosoftGraph"):
        app = getattr(dp, name)
        if app is not None:
            add(f"DataProviders.{name}.Args.ClientSecret", app.client_secret)
    if dp.Splunk is not None:
        add("DataProviders.Splunk.Args.password", dp.Splunk.password)
    out.extend(
        SecretSetting(path, source, t.secret_expiry) for path, source in block_references(t.msticpy)
    )
    return out


def _is_secret_field(model: type[Any], field: str) -> bool:
    """AuthKey is always a secret; ApiID only for XForce (RiskIQ's and IntSights' are user ids)."""
    return field == "auth_key" or (field == "api_id" and model is XForceArgs)


def secret_name(t: Tenant, setting_path: str) -> str:
    """The Key Vault secret name msticpy resolves for this setting of this tenant."""
    base = format_kv_name(setting_path)
    return format_kv_name(f"{t.secret_prefix}-{base}") if t.secret_prefix else base


def block_reference(t: Tenant) -> Callable[[str, str], dict[str, Any]]:
    """The reference for an env:/file: value found in the tenant's msticpy: block."""
    return lambda path, source: secret_reference(t, SecretSetting(path, source))


def secret_reference(t: Tenant, s: SecretSetting) -> dict[str, Any]:
    """The msticpyconfig value that stands in for the secret."""
    if t.secret_store == "env":  # noqa: S105 (a storage mode, not a password)
        return {"EnvironmentVar": env_var_name(s)}
    in_vault = vault_secret(s.source)
    return {"KeyVault": in_vault if in_vault is not None else secret_name(t, s.setting_path)}


def vault_secret(source: str) -> str | None:
    """The secret name of a `keyvault:NAME` source (already in the tenant's vault), else None."""
    return source[len(KEYVAULT_PREFIX) :] if source.startswith(KEYVAULT_PREFIX) else None


def vault_secrets(t: Tenant) -> set[tuple[str, str]]:
    """(vault, name), case-folded, of the tenant's `keyvault:` sources: referenced, never
    pushed, never pruned."""
    names = (vault_secret(s.source) for s in secret_settings(t))
    return {(t.key_vault.casefold(), n.casefold()) for n in names if n is not None}


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
            expiry=s.expiry,
        )
        for s in secret_settings(t)
        if vault_secret(s.source) is None  # keyvault: sources are in the vault already
    ]


def ti_entries(t: Tenant) -> list[tuple[str, Any]]:
    return [
        (name, getattr(t.ti_providers, name))
        for name in type(t.ti_providers).model_fields
        if getattr(t.ti_providers, name) is not None
    ]


def referenced_secrets(cfg: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (vault, secret name) a msticpyconfig's `{KeyVault: ...}` references make msticpy
    read, both case-folded, resolved as msticpy resolves them (SecretsClient.
    _get_kv_vault_and_name): null or "default" -> the `KeyVault.VaultName` vault and the
    setting's path as the name; "vault/name" -> that vault and name; any other text -> that name
    in the `KeyVault.VaultName` vault. A reference msticpy cannot resolve (no vault) is skipped.
    """
    settings = cfg.get("KeyVault")
    default = settings.get("VaultName") if isinstance(settings, Mapping) else None
    out: set[tuple[str, str]] = set()
    for parts, value in walk(cfg):
        if not is_msticpy_reference(value) or "KeyVault" not in value:
            continue
        found = resolve_reference(default, parts, value["KeyVault"])
        if found:
            out.add((found[0].casefold(), found[1].casefold()))
    return out


def resolve_reference(default: Any, parts: tuple[str, ...], named: Any) -> tuple[str, str] | None:
    """(vault, secret name) msticpy reads for `{KeyVault: named}` at setting `parts`, where
    `default` is the config's `KeyVault.VaultName`; None when it names no vault."""
    if not named or str(named).casefold() == "default":
        vault, name = default, ".".join(parts)
    elif "/" in str(named):
        vault, _, name = str(named).partition("/")
    else:
        vault, name = default, str(named)
    return (str(vault), format_kv_name(name)) if vault else None
