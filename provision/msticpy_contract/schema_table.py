"""msticpy's setting schema as our own declarative table (checked by `schema`).

The rules are restated from ``msticpy/resources/mpconfig_defaults.yaml``; `schema` explains what
they mean and applies them the way msticpy's validator does, and the parity tests hold both to
msticpy itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

# --------------------------------------------------------------------------------------------
# Rule table vocabulary
# --------------------------------------------------------------------------------------------
Kind = Literal[
    "text",
    "guid",
    "choice",
    "choices",
    "flag",
    "secret",
    "text_map",
    "text_list",
    "unchecked",
    "provider_id",
]


@dataclass(frozen=True)
class Field:
    """A leaf setting rule; ``options`` are the allowed values (or the one provider id)."""

    kind: Kind
    required: bool = True
    options: tuple[str, ...] = ()


# A node is a section (mapping of key -> node), a leaf rule, or None ("anything goes").
Node: TypeAlias = "Mapping[str, Node] | Field | None"


def text(*, optional: bool = False) -> Field:
    return Field("text", not optional)


def guid(*, optional: bool = False) -> Field:
    return Field("guid", not optional)


def choice(*options: str, optional: bool = False) -> Field:
    return Field("choice", not optional, options)


def choices(*options: str, optional: bool = False) -> Field:
    return Field("choices", not optional, options)


def flag(*, optional: bool = False) -> Field:
    return Field("flag", not optional)


def secret(*, optional: bool = False) -> Field:
    return Field("secret", not optional)


def provider_id(name: str) -> Field:
    return Field("provider_id", False, (name,))


TEXT_MAP = Field("text_map")
OPTIONAL_TEXT_LIST = Field("text_list", required=False)
UNCHECKED = Field("unchecked", required=False)  # msticpy has no validator for "int"

# --------------------------------------------------------------------------------------------
# The rules (msticpy 3.0.2, resources/mpconfig_defaults.yaml)
# --------------------------------------------------------------------------------------------
_AUTH_METHODS: tuple[str, ...] = ("env", "msi", "cli", "devicecode", "interactive", "vscode")
_AUTH_METHODS += ("powershell", "clientsecret", "certificate")
_COMPONENT_AUTH_METHODS = ("env", "msi", "cli", "interactive")
_CLOUDS = ("global", "cn", "usgov")

WORKSPACE: dict[str, Node] = {
    "WorkspaceName": text(optional=True),
    "WorkspaceId": guid(),
    "TenantId": guid(),
    "SubscriptionId": guid(optional=True),
    "ResourceGroup": text(optional=True),
}

_AZURE_CLI: dict[str, Node] = {
    "Args": {
        "auth_methods": choices(*_AUTH_METHODS, optional=True),
        "clientId": guid(optional=True),
        "tenantId": guid(optional=True),
        "clientSecret": secret(),
    },
}

_AAD_APP_ARGS: dict[str, Node] = {
    "ClientId": guid(),
    "TenantId": guid(),
    "UserName": text(optional=True),
    "ClientSecret": secret(),
}

_QUERY_PROVIDER: dict[str, Node] = {"alias": text(optional=True), "connect": flag(optional=True)}


def _ti(provider: str, **args: Field) -> dict[str, Node]:
    """A TIProviders entry: Primary flag (required), Provider id and optional Args."""
    node: dict[str, Node] = {"Primary": flag(), "Provider": provider_id(provider)}
    if args:
        node["Args"] = args
    return node


def _keyed(provider: str) -> dict[str, Node]:
    """A TI provider whose only argument is an API key."""
    return _ti(provider, AuthKey=secret())


RULES: dict[str, Node] = {
    "AzureSentinel": {"Workspaces": {"Default": WORKSPACE}},
    "Azure": {
        "cloud": choice(*_CLOUDS, optional=True),
        "auth_methods": choices(*_AUTH_METHODS, optional=True),
        "resource_manager_url": text(optional=True),
    },
    "QueryDefinitions": {"Custom": OPTIONAL_TEXT_LIST},
    "TIProviders": {
        "OTX": _keyed("OTX"),
        "VirusTotal": _ti("VirusTotal", AuthKey=secret(), UseVT3PrivateAPI=flag(optional=True)),
        "XForce": _ti("XForce", ApiID=secret(), AuthKey=secret()),
        "AzureSentinel": _ti("AzSTI", WorkspaceID=guid(), TenantID=guid()),
        "OpenPageRank": _keyed("OPR"),
        "TorExitNodes": _ti("Tor"),
        "GreyNoise": _keyed("GreyNoise"),
        "RiskIQ": _ti("RiskIQ", ApiID=text(), AuthKey=secret()),
        "IntSights": _ti("IntSights", ApiID=text(), AuthKey=secret()),
        "Pulsedive": _keyed("Pulsedive"),
        "IPQualityScore": _keyed("IPQualityScore"),
        "BinaryEdge": _keyed("BinaryEdge"),
        "AbuseIPDB": _keyed("AbuseIPDB"),
    },
    "OtherProviders": {
        "GeoIPLite": {
            "Args": {"AuthKey": secret(), "DBFolder": text()},
            "Provider": provider_id("GeoLiteLookup"),
        },
        "IPStack": {"Args": {"AuthKey": secret()}, "Provider": provider_id("IPStackLookup")},
    },
    "DataProviders": {
        "AzureCLI": _AZURE_CLI,
        "Splunk": {
            "Args": {
                "host": text(),
                "username": text(optional=True),
                "password": secret(),
                "port": UNCHECKED,
                "http_scheme": text(optional=True),
                "verify": flag(optional=True),
                "owner": text(optional=True),
                "app": text(optional=True),
                "sharing": choice("global", "system", "app", "user", optional=True),
                "token": text(optional=True),
                "cookie": text(optional=True),
                "autologin": flag(optional=True),
            },
        },
        "LocalData": {"data_paths": OPTIONAL_TEXT_LIST},
        "Mordor": {"save_folder": text(optional=True), "use_cached": flag(optional=True)},
        "Browshot": {"Args": {"AuthKey": secret()}},
        "MicrosoftDefender": {"Args": {**_AAD_APP_ARGS, "Cloud": text(optional=True)}},
        "MicrosoftGraph": {"Args": _AAD_APP_ARGS},
        "Sumologic": {
            "Args": {"connection_str": text(), "accessid": text(), "accesskey": secret()},
        },
        "Cybereason": {"Args": {"TenantId": guid(), "ClientId": text(), "ClientSecret": secret()}},
        "Kusto": {
            "Args": {
                "Cluster": text(),
                "TenantId": guid(),
                "IntegratedAuth": flag(),
                "ClientId": guid(optional=True),
                "ClientSecret": secret(optional=True),
            },
        },
        "Openobserve": {"Args": {"connection_str": text(), "user": text(), "password": secret()}},
    },
    "msticpy": {
        "FriendlyExceptions": flag(optional=True),
        "QueryDefinitions": OPTIONAL_TEXT_LIST,
        "http_timeout": UNCHECKED,
    },
    "AzureCLI": _AZURE_CLI,  # deprecated location of DataProviders.AzureCLI
    "KeyVault": {
        "TenantId": guid(),
        "SubscriptionId": guid(optional=True),
        "ResourceGroup": text(optional=True),
        "AzureRegion": text(optional=True),
        "VaultName": text(),
        "UseKeyring": flag(optional=True),
        "Authority": choice("global", "usgov", "cn"),  # required: msticpy gives no required=False
    },
    "UserDefaults": {
        # msticpy's schema names placeholder keys here ("workspace", "provider"); real configs
        # use workspace / provider names, so these rules almost never apply -- as in msticpy.
        "QueryProviders": {
            "AzureSentinel": {"workspace": _QUERY_PROVIDER},
            "provider": _QUERY_PROVIDER,
        },
        "LoadComponents": {
            "TILookup": None,
            "GeoIpLookup": {"provider": text()},
            "Notebooklets": {"query_provider": {"AzureSentinel": TEXT_MAP}},
            "Pivot": None,
            "AzureData": {"auth_methods": choices(*_COMPONENT_AUTH_METHODS), "connect": flag()},
            "AzureSentinelAPI": {
                "auth_methods": choices(*_COMPONENT_AUTH_METHODS),
                "res_id": text(),
                "connect": flag(),
            },
        },
    },
}

# Settings msticpy's code reads but its schema file does not list, so msticpy's validator never
# asks for them. A deliberate exception to parity with that validator: checked only when the
# section that holds them is present, reported with beyond_schema=True.
BEYOND_SCHEMA: dict[str, Field] = {
    # GeoLiteLookup._check_initialized reads Args.AccountID and downloads with
    # httpx.BasicAuth(AccountID, AuthKey) (msticpy/context/geoip.py, since 2.14); without it
    # the download fails and GeoIP never works on a fresh instance.
    "OtherProviders.GeoIPLite.Args.AccountID": text(),
}
