"""The msticpy versions a tenant's rendered settings need, as data: a kernel pinned below one of
them would run a msticpy that misreads the config the tool checked.

Each entry names the setting, the first msticpy release that reads it as rendered, and the
source that says so (DESIGN.md, "Facts checked against Azure and msticpy sources"):
- `Azure.tenant_id` with `cli` among the auth methods: before 2.16.2 msticpy passes the tenant
  to AzureCliCredential, which fails on a compute instance signed in with its managed identity
  (microsoft/msticpy#842). msticpy's default `Azure.auth_methods` is [cli, msi, devicecode]
  (msticpy/resources/mpconfig_defaults.yaml), so an unset list includes cli; the tool always
  renders `Azure.tenant_id`.
- GeoLite `AccountID`: GeoLiteLookup downloads its database with basic auth AccountID + AuthKey
  since 2.14 (msticpy/context/geoip.py); an older msticpy ignores the account id and the
  download fails.
Component names of `UserDefaults.LoadComponents` are not versioned here: no release fact about
them has been checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provision.inventory.model import Tenant

__all__ = ["MSTICPY_DEFAULT_AUTH_METHODS", "Minimum", "minimum_versions"]

MSTICPY_DEFAULT_AUTH_METHODS = ("cli", "msi", "devicecode")


@dataclass(frozen=True)
class Minimum:
    version: str
    setting: str  # what in the rendered msticpyconfig.yaml needs it
    why: str


def minimum_versions(t: Tenant) -> list[Minimum]:
    """The msticpy releases tenant `t`'s rendered msticpyconfig.yaml needs."""
    out: list[Minimum] = []
    methods = t.azure_auth_methods or MSTICPY_DEFAULT_AUTH_METHODS
    components = t.autoload.components
    component_cli = any(
        c is not None and "cli" in c.auth_methods
        for c in (components.AzureData, components.AzureSentinelAPI)
    )
    if "cli" in methods or component_cli:
        out.append(
            Minimum(
                "2.16.2",
                "Azure.tenant_id with cli authentication",
                "older msticpy passes tenant_id to AzureCliCredential, which fails on a compute "
                "instance signed in with its managed identity (microsoft/msticpy#842)",
            )
        )
    if t.geoip is not None and t.geoip.provider == "GeoLiteLookup":
        out.append(
            Minimum(
                "2.14.0",
                "OtherProviders.GeoIPLite.Args.AccountID",
                "GeoLiteLookup downloads its database with the MaxMind account ID since 2.14",
            )
        )
    return out
