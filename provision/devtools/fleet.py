"""The synthetic fleet: a valid inventory of N tenants x U users x S `file:` secrets on disk.

One generator for `invoke bench` and the reliability and security tests. Tenants are t001..,
users u1..uU; GUIDs are unique per tenant and stable (uuid5 of the tenant name). Secret values
are derived from the tenant, the setting and `secret_version`, so two fleets that differ only in
`secret_version` change every secret, and two that differ in `variant` render different user
files (the default Sentinel workspace's name is in msticpyconfig.yaml and config.json).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision.errors import Problem, UserInputError

__all__ = ["MAX_SECRETS", "SECRET_UNITS", "VARIED_UNITS", "Fleet", "write_fleet"]

# The TI providers whose only secret is `args.auth_key` (one Key Vault secret each), then other
# single-secret settings for fleets that want more than eight secrets per tenant.
_KEY_PROVIDERS = (
    "VirusTotal",
    "OTX",
    "GreyNoise",
    "AbuseIPDB",
    "Pulsedive",
    "IPQualityScore",
    "BinaryEdge",
    "OpenPageRank",
)
_API_ID_PROVIDERS = ("RiskIQ", "IntSights")
_EXTRA_UNITS = ("GeoIP", "AzureCLI", "MicrosoftDefender", "MicrosoftGraph", "Splunk")
SECRET_UNITS = (*_KEY_PROVIDERS, *_API_ID_PROVIDERS, *_EXTRA_UNITS)
MAX_SECRETS = len(SECRET_UNITS)
# One secret in each kind of section (TI provider args, geoip, a data provider's client secret).
VARIED_UNITS = ("VirusTotal", "OTX", "GreyNoise", "AbuseIPDB", "GeoIP", "AzureCLI")

_NS = uuid.UUID("3b0c8c9e-2f4d-4a57-9b8e-6d1f0c7a5e42")


@dataclass
class Fleet:
    """A generated inventory on disk, with the secret values its `file:` references hold."""

    path: Path
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> unit -> value

    @property
    def folder(self) -> Path:
        return self.path.parent

    def all_secret_values(self) -> list[str]:
        return [v for per in self.secrets.values() for v in per.values()]


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _secret_unit(unit: str, ref: str, tenant_id: str, client_id: str) -> tuple[str, Any]:
    """(section, content) that adds exactly one secret-bearing setting to a tenant."""
    if unit in _KEY_PROVIDERS:
        return "ti", {"args": {"auth_key": ref}}
    if unit in _API_ID_PROVIDERS:
        return "ti", {"args": {"api_id": f"bench-{unit.lower()}", "auth_key": ref}}
    if unit == "GeoIP":
        return "geoip", {"provider": "GeoLiteLookup", "account_id": "100000", "auth_key": ref}
    if unit == "AzureCLI":  # a service principal: the tenant's auth methods include env
        return "data", {"client_id": client_id, "tenant_id": tenant_id, "client_secret": ref}
    if unit in ("MicrosoftDefender", "MicrosoftGraph"):
        return "data", {"client_id": client_id, "tenant_id": tenant_id, "client_secret": ref}
    if unit == "Splunk":
        return "data", {"host": "splunk.bench.example", "username": "bench", "password": ref}
    raise ValueError(unit)


def _law_id(tenant: str, variant: str) -> str:
    return _guid(tenant, "law") if variant == "a" else _guid(tenant, "law", variant)


def _secret_value(tenant: str, unit: str, version: str) -> str:
    digest = hashlib.sha256(f"{tenant}/{unit}/{version}".encode()).hexdigest()[:16]
    return f"S3cr3t-{tenant}-{unit.lower()}-v{version}-{digest}"


def _check_sizes(tenants: int, users: int, units: Sequence[str]) -> None:
    if not 1 <= tenants <= 9999:
        raise UserInputError([Problem(f"--tenants {tenants}: expected 1..9999")])
    if not 1 <= users <= 64:
        raise UserInputError([Problem(f"--users {users}: expected 1..64")])
    unknown = [u for u in units if u not in SECRET_UNITS]
    if unknown:
        raise ValueError(f"unknown secret units: {unknown}")


def write_fleet(
    folder: Path,
    tenants: int,
    users: int = 2,
    secrets: int | None = None,
    *,
    units: Sequence[str] = VARIED_UNITS,
    variant: str = "a",
    also_variants: Sequence[str] = (),
    secret_version: str = "1",  # noqa: S107 (a label in the values, not a password)
    name: str = "inventory.yaml",
    secrets_dir: str = "secrets",
) -> Fleet:
    """Write an inventory of `tenants` tenants and its secret files into `folder`.

    Every tenant has one secret per unit: the first `secrets` of SECRET_UNITS when `secrets` is
    given, else `units`. `variant` changes a template-visible value (the default Sentinel
    workspace's name); `also_variants` lists the other variants' workspaces too (not default), so
    that an emulator seeded from this fleet holds the Log Analytics workspaces that plan's
    Sentinel check reads for those variants; `secret_version` changes every secret value.
    Several fleets may share a folder under different `name` and `secrets_dir`.
    """
    import yaml

    if secrets is not None:
        if not 0 <= secrets <= MAX_SECRETS:
            raise UserInputError([Problem(f"--secrets {secrets}: expected 0..{MAX_SECRETS}")])
        units = SECRET_UNITS[:secrets]
    _check_sizes(tenants, users, units)
    secret_dir = folder / secrets_dir
    secret_dir.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(folder / name)
    width = max(3, len(str(tenants)))
    out: list[dict[str, Any]] = []
    for i in range(1, tenants + 1):
        tname = f"t{i:0{width}d}"
        out.append(
            _tenant(
                fleet, tname, users, units, (variant, *also_variants), secret_version, secrets_dir
            )
        )
    doc = {"version": 1, "defaults": {"cloud": "global"}, "tenants": out}
    fleet.path.write_text(
        "# synthetic fleet (provision/devtools/fleet.py)\n" + yaml.safe_dump(doc, sort_keys=False),
        encoding="utf-8",
    )
    return fleet


def _tenant(
    fleet: Fleet,
    name: str,
    users: int,
    units: Sequence[str],
    variants: Sequence[str],
    secret_version: str,
    secrets_dir: str,
) -> dict[str, Any]:
    """One tenant's inventory entry; writes its secret files and records their values."""
    variant, also_variants = variants[0], variants[1:]
    tenant_id = _guid(name, "tenant")
    client_id = _guid(name, "client")
    entry: dict[str, Any] = {
        "name": name,
        "tenant_id": tenant_id,
        "subscription_id": _guid(name, "subscription"),
        "resource_group": f"rg-{name}",
        "ml_workspace": f"mlw-{name}",
        "key_vault": f"kv-{name}",
        "sentinel": [
            {
                "name": "Main" if v == variant else f"Alt{v}",
                "workspace_id": _law_id(name, v),
                "workspace_name": f"law-{name}-{v}",
                "default": v == variant,
            }
            for v in dict.fromkeys([variant, *also_variants])
        ],
        "users": [f"u{u}" for u in range(1, users + 1)],
    }
    ti: dict[str, Any] = {}
    data: dict[str, Any] = {}
    values = fleet.secrets.setdefault(name, {})
    for unit in units:
        value = _secret_value(name, unit, secret_version)
        values[unit.lower()] = value
        secret_file = fleet.folder / secrets_dir / f"{name}-{unit.lower()}.txt"
        secret_file.write_text(value + "\n", encoding="utf-8")
        ref = f"file:{secrets_dir}/{secret_file.name}"
        section, content = _secret_unit(unit, ref, tenant_id, client_id)
        if section == "ti":
            ti[unit] = content
        elif section == "geoip":
            entry["geoip"] = content
        else:
            data[unit] = content
    if ti:
        entry["ti_providers"] = ti
    if data:
        entry["data_providers"] = data
    if "AzureCLI" in data:
        entry["azure_auth_methods"] = ["env", "cli", "msi"]
    return entry
