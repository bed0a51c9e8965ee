"""Rules that span fields of one tenant, or tenants of the fleet (run after the model accepts each
tenant). Secret names come from the msticpy contract: they are the names msticpy will look up.
"""

from __future__ import annotations

from pathlib import Path

from provision.errors import Problem
from provision.inventory.fields import KV_SECRET_NAME_RE
from provision.inventory.model import DataProviders, Tenant
from provision.msticpy_contract.block_rules import block_problems
from provision.msticpy_contract.secret_names import secret_pushes
from provision.yamlsource import PathKey, YamlDocument


def tenant_rules(t: Tenant) -> list[tuple[PathKey, str]]:
    """Rules that span fields of one tenant."""
    out: list[tuple[PathKey, str]] = []
    defaults = [i for i, ws in enumerate(t.sentinel) if ws.default]
    if len(defaults) != 1:
        out.append(
            (
                ("sentinel",),
                f"exactly one workspace must have default: true (found {len(defaults)})",
            )
        )
    names = [ws.name for ws in t.sentinel]
    for i, name in enumerate(names):
        if name == "Default":
            out.append(
                (
                    ("sentinel", i, "name"),
                    "'Default' is reserved: mark the default workspace with default: true",
                )
            )
        elif name in names[:i]:
            out.append((("sentinel", i, "name"), f"duplicate Sentinel workspace name {name!r}"))
    ws_names = {*names, "Default"}
    for i, qp in enumerate(t.autoload.query_providers):
        if qp.provider == "AzureSentinel" and qp.workspace not in ws_names:
            out.append(
                (
                    ("autoload", "query_providers", i, "workspace"),
                    f"names no Sentinel workspace of this tenant (known: "
                    f"{', '.join(sorted(ws_names))})",
                )
            )
        if (
            qp.provider in DataProviders.model_fields
            and getattr(t.data_providers, qp.provider) is None
        ):
            out.append(
                (
                    ("autoload", "query_providers", i, "provider"),
                    f"{qp.provider} is not configured under data_providers",
                )
            )
    comps = t.autoload.components
    if comps.Notebooklets is not None and comps.Notebooklets.workspace not in ws_names:
        out.append(
            (
                ("autoload", "components", "Notebooklets", "workspace"),
                "names no Sentinel workspace of this tenant",
            )
        )
    if comps.GeoIpLookup is not None:
        if t.geoip is None:
            out.append(
                (
                    ("autoload", "components", "GeoIpLookup"),
                    "GeoIpLookup is autoloaded but no geoip provider is configured",
                )
            )
        elif t.geoip.provider != comps.GeoIpLookup.provider:
            out.append(
                (
                    ("autoload", "components", "GeoIpLookup", "provider"),
                    f"names {comps.GeoIpLookup.provider} but geoip configures {t.geoip.provider}",
                )
            )
    if comps.TILookup is not None and not t.ti_providers.model_dump(exclude_none=True):
        out.append(
            (
                ("autoload", "components", "TILookup"),
                "TILookup is autoloaded but no ti_providers are configured",
            )
        )
    aliases = [u.alias for u in t.user_list]
    for i, alias in enumerate(aliases):
        if alias.casefold() in (a.casefold() for a in aliases[:i]):
            out.append((("users", i), f"duplicate user alias {alias!r}"))
    computes = [u.compute_name for u in t.user_list]
    for i, name in enumerate(computes):
        if name in computes[:i]:
            out.append(
                (
                    ("users", i),
                    f"compute instance name {name!r} is used twice; set compute: for this user",
                )
            )
    for push in secret_pushes(t):
        if not KV_SECRET_NAME_RE.fullmatch(push.name):
            out.append(
                (
                    ("secret_prefix",),
                    f"Key Vault secret name {push.name!r} is invalid "
                    "(1-127 of letters, digits and '-')",
                )
            )
    out.extend(block_problems(t))
    return out


def fleet_rules(tenants: list[Tenant], path: Path, doc: YamlDocument) -> list[Problem]:
    """Two tenants sharing a vault must not write the same secret name from different sources."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    problems: list[Problem] = []
    for index, t in enumerate(tenants):
        for push in secret_pushes(t):
            key = (push.vault.lower(), push.name.lower())
            if key in owners and owners[key][1] != push.source:
                problems.append(
                    Problem(
                        f"secret {push.name!r} in vault {push.vault!r} is also written by tenant "
                        f"{owners[key][0]!r} from another source; set secret_prefix on one of them",
                        file=str(path),
                        line=doc.line_of(("tenants", index)),
                        path=f"tenants[{index}]",
                    )
                )
            owners.setdefault(key, (t.name, push.source))
    return problems
