"""Shared cases for the schema tests: a valid msticpyconfig and how to edit and judge it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from provision.msticpy_contract.schema import check_msticpyconfig

CRASH = "CRASH"
Verdict = frozenset[str] | str
Config = dict[str, Any]

TENANT = "8ecf8077-cf51-4820-aadd-14040956f35d"
SUBSCRIPTION = "3b701f84-d04b-4479-89b1-fa8827eb537e"
WS_DEFAULT = "52b1ab41-869e-4138-9e40-2a4457f09bf0"
WS_CONTOSO = "a927809c-8142-43e1-96b3-4ad87cfe95a3"
WS_FABRIKAM = "e1b2c3d4-0000-4a5b-8c9d-0123456789ab"
TENANT_FABRIKAM = "0f0e0d0c-0b0a-4909-8807-060504030201"
APP_ID = "d3f1a5b2-7c4e-4f6a-9b8d-1e2f3a4b5c6d"


def build_valid_config() -> Config:
    """A full msticpyconfig as this tool renders it, valid for msticpy."""

    def keyed(provider: str, key: Any, primary: bool) -> dict[str, Any]:
        return {"Args": {"AuthKey": key}, "Primary": primary, "Provider": provider}

    return {
        "AzureSentinel": {
            "Workspaces": {
                "Default": {
                    "WorkspaceId": WS_DEFAULT,
                    "TenantId": TENANT,
                    "SubscriptionId": SUBSCRIPTION,
                    "ResourceGroup": "rg-soc",
                    "WorkspaceName": "law-soc",
                },
                "Contoso": {
                    "WorkspaceId": WS_CONTOSO,
                    "TenantId": TENANT,
                    "SubscriptionId": SUBSCRIPTION,
                    "ResourceGroup": "rg-contoso",
                    "WorkspaceName": "law-contoso",
                },
                "Fabrikam": {
                    "WorkspaceId": WS_FABRIKAM,
                    "TenantId": TENANT_FABRIKAM,
                    "WorkspaceName": "law-fabrikam",
                },
            }
        },
        "Azure": {"cloud": "global", "auth_methods": ["cli", "msi", "devicecode"]},
        "TIProviders": {
            "OTX": keyed("OTX", {"KeyVault": None}, True),
            "VirusTotal": {
                "Args": {"AuthKey": {"EnvironmentVar": "VT_API_KEY"}, "UseVT3PrivateAPI": False},
                "Primary": True,
                "Provider": "VirusTotal",
            },
            "XForce": {
                "Args": {"ApiID": {"KeyVault": "kv-soc/xforce-id"}, "AuthKey": {"KeyVault": None}},
                "Primary": False,
                "Provider": "XForce",
            },
            "GreyNoise": keyed("GreyNoise", "plain-community-key", True),
            "AzureSentinel": {
                "Args": {"WorkspaceID": WS_DEFAULT, "TenantID": TENANT},
                "Primary": False,
                "Provider": "AzSTI",
            },
            "OpenPageRank": keyed("OPR", {"KeyVault": None}, False),
            "RiskIQ": {
                "Args": {"ApiID": "soc@example.com", "AuthKey": {"KeyVault": None}},
                "Primary": True,
                "Provider": "RiskIQ",
            },
            "IntSights": {
                "Args": {"ApiID": "intsights-account", "AuthKey": {"EnvironmentVar": "IS_KEY"}},
                "Primary": True,
                "Provider": "IntSights",
            },
            "Pulsedive": keyed("Pulsedive", {"KeyVault": None}, False),
            "IPQualityScore": keyed("IPQualityScore", {"KeyVault": None}, False),
            "BinaryEdge": keyed("BinaryEdge", {"KeyVault": None}, False),
            "AbuseIPDB": keyed("AbuseIPDB", {"EnvironmentVar": "ABUSEIPDB_KEY"}, False),
            "TorExitNodes": {"Primary": False, "Provider": "Tor"},
        },
        "OtherProviders": {
            "GeoIPLite": {
                "Args": {
                    "AuthKey": {"KeyVault": None},
                    "AccountID": "123456",
                    "DBFolder": "~/.msticpy",
                },
                "Provider": "GeoLiteLookup",
            },
            "IPStack": {
                "Args": {"AuthKey": {"EnvironmentVar": "IPSTACK_KEY"}},
                "Provider": "IPStackLookup",
            },
        },
        "DataProviders": {
            "AzureCLI": {
                "Args": {
                    "auth_methods": ["cli", "clientsecret"],
                    "clientId": APP_ID,
                    "tenantId": TENANT,
                    "clientSecret": {"KeyVault": None},
                }
            }
        },
        "KeyVault": {
            "SubscriptionId": SUBSCRIPTION,
            "ResourceGroup": "rg-soc",
            "AzureRegion": "westeurope",
            "VaultName": "kv-soc",
            "TenantId": TENANT,
            "UseKeyring": False,
            "Authority": "global",
        },
        "UserDefaults": {
            "QueryProviders": {
                "AzureSentinel": {
                    "Default": {"alias": "asi", "connect": True},
                    "Contoso": {"alias": "contoso", "connect": False},
                },
                "LocalData": {"alias": "local"},
            },
            "LoadComponents": {
                "TILookup": None,
                "GeoIpLookup": {"provider": "GeoLiteLookup"},
                "Notebooklets": {"query_provider": {"AzureSentinel": {"workspace": "Default"}}},
                "Pivot": None,
                "AzureData": {"auth_methods": ["cli", "interactive"], "connect": True},
                "AzureSentinelAPI": {
                    "auth_methods": ["cli"],
                    "res_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-soc",
                    "connect": True,
                },
            },
        },
        "msticpy": {"FriendlyExceptions": True, "http_timeout": 60},
    }


def our_verdict(cfg: Mapping[str, Any]) -> Verdict:
    """Our verdict in msticpy's terms.

    Deliberate exception to parity: problems with settings msticpy's code reads but its schema
    file does not list (``beyond_schema``, e.g. GeoIPLite's AccountID) are left out, since
    msticpy's validator cannot report them. test_mpschema_parity pins that exception.
    """
    before = copy.deepcopy(cfg)
    problems = check_msticpyconfig(cfg)
    assert cfg == before, "check_msticpyconfig must not modify its input"
    if any(p.fatal for p in problems):
        return CRASH
    return frozenset(p.path for p in problems if not p.beyond_schema)


DELETE = object()
Edit = tuple[str, Any]  # dotted path, new value (or DELETE)


def edited(*edits: Edit, base: Config | None = None) -> Config:
    """The valid config (or ``base``) with each dotted path set to a value or deleted."""
    cfg = build_valid_config() if base is None else base
    for path, value in edits:
        *parents, leaf = path.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return cfg
