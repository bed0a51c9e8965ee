"""From an existing msticpyconfig to an inventory tenant entry that renders the same settings.

The inventory's fields take what they can say exactly (workspaces, TI providers, GeoIP, data
providers, autoload, the Key Vault connection); a section is modelled only if the model accepts
it as a whole, otherwise it stays msticpy-shaped. Then the settings the modelled tenant renders
are compared with the original, and every setting that is missing or different goes into the
tenant's `msticpy:` block, which the renderer merges over the fields (the block wins). So the
import is exact by construction, and the tests check it with msticpy itself.

Plaintext secrets become references chosen by the caller (`reference(path)` gives `env:NAME` or
`file:PATH`); existing msticpy references (`{KeyVault: ...}`, `{EnvironmentVar: ...}`) stay as
they are. No secret value is ever part of the entry, a message or an exception.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from provision.adopt.findings import find_plaintext
from provision.inventory.fields import KEYVAULT_PREFIX, KV_SECRET_NAME_RE
from provision.inventory.model import DataProviders, Tenant, TIProviders
from provision.inventory.rules import tenant_rules
from provision.msticpy_contract.block import OWNED, is_msticpy_reference, is_secret_setting, walk
from provision.msticpy_contract.secret_names import (
    ARG_NAMES,
    resolve_reference,
    secret_settings,
)
from provision.msticpy_contract.settings import build_msticpyconfig
from provision.secrets import SecretValue

_FROM_ARG = {msticpy: ours for ours, msticpy in ARG_NAMES.items()}
_MODELLED_SECTIONS = ("ti_providers", "geoip", "data_providers", "autoload")


@dataclass
class Placement:
    """Where the tenant lives in Azure: from flags or an existing entry, else from the config."""

    name: str
    tenant_id: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    ml_workspace: str | None = None
    key_vault: str | None = None
    users: list[Any] = field(default_factory=list)


@dataclass
class ImportResult:
    entry: dict[str, Any]  # the tenant entry, inventory field names, references only
    plaintext: dict[str, SecretValue]  # setting path -> value found in plain text
    original: dict[str, Any]  # the config as imported, plaintext secrets replaced by references


class ImportFailed(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def import_config(
    cfg: Mapping[str, Any], place: Placement, reference: Callable[[str], str]
) -> ImportResult:
    """The tenant entry for `cfg`; raises ImportFailed with every problem (never a value)."""
    plaintext = find_plaintext(cfg)
    problems: list[tuple[str, str]] = []
    base = _placement_entry(cfg, place, problems)
    base["sentinel"] = _workspaces(cfg, problems)
    if problems:
        raise ImportFailed(problems)
    refs = {path: reference(path) for path in plaintext}
    refs.update(vault_references(cfg, str(base["key_vault"])))
    converted = _with_references(cfg, refs)
    _validated(base, problems)  # the placement alone must be a valid tenant
    if problems:
        raise ImportFailed(problems)
    candidates = {
        "ti_providers": _ti_providers(cfg, refs),
        "geoip": _geoip(cfg, refs),
        "data_providers": _data_providers(cfg, refs),
        "autoload": _autoload(cfg),
    }
    entry = dict(base)
    for key in _MODELLED_SECTIONS:  # keep each section the model accepts, in this order
        if candidates[key] and _validated({**entry, key: candidates[key]}, []):
            entry[key] = candidates[key]
    tenant = _validated(entry, problems)
    if tenant is None:
        raise ImportFailed(problems)
    owned_secrets = {s.setting_path for s in secret_settings(tenant)}
    produced = build_msticpyconfig(tenant)
    block = _difference(converted, produced, (), owned_secrets)
    if isinstance(block, dict) and block:
        for parts, value in walk(block):
            dotted = ".".join(parts)
            if dotted in OWNED:
                mine = _section(produced, parts[0]).get(parts[1])
                problems.append(
                    (
                        dotted,
                        f"the config has {value!r}, the tenant's {OWNED[dotted]} gives {mine!r}; "
                        "the tool writes this setting from the tenant, so they must agree "
                        "(drop or change the flag)",
                    )
                )
        entry["msticpy"] = block
    if problems:
        raise ImportFailed(problems)
    final = _validated(entry, problems)
    if final is None:
        raise ImportFailed(problems)
    return ImportResult(entry, plaintext, converted)


def additions(original: Mapping[str, Any], rendered: Mapping[str, Any]) -> list[str]:
    """Settings the rendered config has and the original did not (the tool's own additions)."""
    out: list[str] = []
    for parts, value in walk(rendered):
        if isinstance(value, Mapping) and not is_msticpy_reference(value) and value:
            continue
        node: Any = original
        for part in parts:
            node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING:
            out.append(".".join(parts))
    return out


def vault_references(cfg: Mapping[str, Any], key_vault: str) -> dict[str, str]:
    """Setting path -> `keyvault:NAME` for each secret setting whose value is a `{KeyVault: ...}`
    reference msticpy resolves to a secret of `key_vault`: the value is in the vault already,
    so the entry names it and apply never pushes it."""
    settings = cfg.get("KeyVault")
    default = settings.get("VaultName") if isinstance(settings, Mapping) else None
    out: dict[str, str] = {}
    for parts, value in walk(cfg):
        if not (is_msticpy_reference(value) and "KeyVault" in value and is_secret_setting(parts)):
            continue
        found = resolve_reference(default, parts, value["KeyVault"])
        mine = bool(found) and found[0].casefold() == key_vault.casefold()  # type: ignore[index]
        if found and mine and KV_SECRET_NAME_RE.fullmatch(found[1]):
            out[".".join(parts)] = f"{KEYVAULT_PREFIX}{found[1]}"
    return out


# --- placement and workspaces ------------------------------------------------------------------


def _section(cfg: Any, *parts: str) -> dict[str, Any]:
    node = cfg
    for part in parts:
        node = node.get(part) if isinstance(node, Mapping) else None
    return dict(node) if isinstance(node, Mapping) else {}


def _placement_entry(
    cfg: Mapping[str, Any], place: Placement, problems: list[tuple[str, str]]
) -> dict[str, Any]:
    kv = _section(cfg, "KeyVault")
    workspaces = _section(cfg, "AzureSentinel", "Workspaces")
    default = _section(workspaces, "Default") or next(
        (dict(w) for w in workspaces.values() if isinstance(w, Mapping)), {}
    )
    entry: dict[str, Any] = {"name": place.name}
    sources: dict[str, tuple[str | None, Any, str]] = {
        "tenant_id": (
            place.tenant_id,
            kv.get("TenantId") or default.get("TenantId"),
            "--tenant-id",
        ),
        "subscription_id": (
            place.subscription_id,
            kv.get("SubscriptionId") or default.get("SubscriptionId"),
            "--subscription-id",
        ),
        "resource_group": (
            place.resource_group,
            kv.get("ResourceGroup") or default.get("ResourceGroup"),
            "--resource-group",
        ),
        "ml_workspace": (place.ml_workspace, None, "--ml-workspace"),
        "key_vault": (place.key_vault, kv.get("VaultName"), "--key-vault"),
    }
    for key, (given, found, flag) in sources.items():
        value = given or found
        if value in (None, ""):
            problems.append((flag, f"the config names no {key.replace('_', ' ')}; give {flag}"))
        else:
            entry[key] = value
    cloud = kv.get("Authority") or _section(cfg, "Azure").get("cloud")
    if cloud:
        entry["cloud"] = cloud
    if isinstance(kv.get("UseKeyring"), bool):
        entry["use_keyring"] = kv["UseKeyring"]
    methods = _section(cfg, "Azure").get("auth_methods")
    if isinstance(methods, list) and methods:
        entry["azure_auth_methods"] = list(methods)
    if not place.users:
        problems.append(("--user", "name the analysts of this tenant with --user ALIAS"))
    entry["users"] = list(place.users)
    return entry


def _workspaces(cfg: Mapping[str, Any], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    workspaces = _section(cfg, "AzureSentinel", "Workspaces")
    named = {k: dict(v) for k, v in workspaces.items() if k != "Default" and isinstance(v, Mapping)}
    default = _section(workspaces, "Default")
    out: list[dict[str, Any]] = []
    for name, ws in named.items():
        item: dict[str, Any] = {
            "name": str(name),
            "workspace_id": ws.get("WorkspaceId"),
            "workspace_name": ws.get("WorkspaceName") or str(name),
        }
        for ours, theirs in (
            ("subscription_id", "SubscriptionId"),
            ("resource_group", "ResourceGroup"),
        ):
            if ws.get(theirs):
                item[ours] = ws[theirs]
        same = bool(default) and ws.get("WorkspaceId") == default.get("WorkspaceId")
        if same and not any(w.get("default") for w in out):
            item["default"] = True
        out.append(item)
    if default and not any(w.get("default") for w in out):
        name = str(default.get("WorkspaceName") or "DefaultWorkspace")
        taken = {w["name"] for w in out}
        while name in taken or name == "Default":
            name += "-default"
        item = {
            "name": name,
            "workspace_id": default.get("WorkspaceId"),
            "workspace_name": default.get("WorkspaceName") or name,
            "default": True,
        }
        for ours, theirs in (
            ("subscription_id", "SubscriptionId"),
            ("resource_group", "ResourceGroup"),
        ):
            if default.get(theirs):
                item[ours] = default[theirs]
        out.insert(0, item)
    if not out:
        problems.append(("AzureSentinel.Workspaces", "the config names no Sentinel workspace"))
    elif not any(w.get("default") for w in out):
        out[0]["default"] = True
    return out


# --- modelled sections -------------------------------------------------------------------------


def _args(
    section: str, args: Mapping[str, Any], refs: Mapping[str, str], required_secrets: bool
) -> dict[str, Any] | None:
    """Inventory args for msticpy Args (None: a secret is a msticpy reference, keep it as is)."""
    out: dict[str, Any] = {}
    for name, value in args.items():
        ours = _FROM_ARG.get(str(name))
        if ours is None:
            continue  # not modelled: the difference puts it into the block
        path = f"{section}.Args.{name}"
        if path in refs:
            out[ours] = refs[path]
        elif is_msticpy_reference(value) or is_secret_setting(tuple(path.split("."))):
            if required_secrets:
                return None
        else:
            out[ours] = value
    return out


def _ti_providers(cfg: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, entry in _section(cfg, "TIProviders").items():
        if name not in TIProviders.model_fields or not isinstance(entry, Mapping):
            continue
        item: dict[str, Any] = {}
        if isinstance(entry.get("Primary"), bool):
            item["primary"] = entry["Primary"]
        raw_args = entry.get("Args")
        if isinstance(raw_args, Mapping) and name != "TorExitNodes":
            args = _args(f"TIProviders.{name}", raw_args, refs, required_secrets=True)
            if args is None:
                continue
            if args:
                item["args"] = args
        if _accepts(TIProviders, {name: item}):
            out[name] = item
    return out


def _geoip(cfg: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any] | None:
    for section, provider in (("GeoIPLite", "GeoLiteLookup"), ("IPStack", "IPStackLookup")):
        path = f"OtherProviders.{section}.Args.AuthKey"
        if path not in refs:
            continue
        geo: dict[str, Any] = {"provider": provider, "auth_key": refs[path]}
        args = _section(cfg, "OtherProviders", section, "Args")
        folder = args.get("DBFolder")
        if provider == "GeoLiteLookup" and isinstance(folder, str):
            geo["db_folder"] = folder
        account = args.get("AccountID")
        if provider == "GeoLiteLookup" and isinstance(account, (str, int)) and account != "":
            geo["account_id"] = str(account)
        return geo
    return None


_DATA_ARGS: dict[str, dict[str, str]] = {
    "AzureCLI": {
        "auth_methods": "auth_methods",
        "clientId": "client_id",
        "tenantId": "tenant_id",
        "clientSecret": "client_secret",
    },
    "MicrosoftDefender": {
        "ClientId": "client_id",
        "TenantId": "tenant_id",
        "ClientSecret": "client_secret",
        "UserName": "user_name",
    },
    # msticpy's argument name -> the inventory's field name (names, not values)
    "Splunk": {"host": "host", "username": "username", "password": "password", "port": "port"},  # nosec B105 (field names)
}
_DATA_ARGS["MicrosoftGraph"] = _DATA_ARGS["MicrosoftDefender"]


def _data_providers(cfg: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, names in _DATA_ARGS.items():
        args = _section(cfg, "DataProviders", name, "Args")
        if not args:
            continue
        item: dict[str, Any] = {}
        for theirs, ours in names.items():
            path = f"DataProviders.{name}.Args.{theirs}"
            if path in refs:
                item[ours] = refs[path]
            elif theirs in args and not is_msticpy_reference(args[theirs]):
                item[ours] = args[theirs]
        if _accepts(DataProviders, {name: item}):
            out[name] = item
    return out


def _autoload(cfg: Mapping[str, Any]) -> dict[str, Any]:
    defaults = _section(cfg, "UserDefaults")
    loads: list[dict[str, Any]] = []
    for provider, opts in _section(defaults, "QueryProviders").items():
        if provider == "AzureSentinel" and isinstance(opts, Mapping):
            for workspace, ws_opts in opts.items():
                loads.append({"provider": provider, "workspace": workspace, **_qp(ws_opts)})
        else:
            loads.append({"provider": provider, **_qp(opts)})
    comps: dict[str, Any] = {}
    for name, opts in _section(defaults, "LoadComponents").items():
        opts = dict(opts) if isinstance(opts, Mapping) else {}
        if name == "Notebooklets":
            workspace = _section(opts, "query_provider", "AzureSentinel").get("workspace")
            comps[name] = {"workspace": workspace} if workspace else {}
        else:
            comps[name] = opts
    out: dict[str, Any] = {}
    if loads:
        out["query_providers"] = loads
    if comps:
        out["components"] = comps
    return out


def _qp(opts: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(opts).items() if k in ("alias", "connect")} if opts else {}


# --- checks and the difference -----------------------------------------------------------------


def _accepts(model: type[Any], data: Mapping[str, Any]) -> bool:
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


def _validated(entry: Mapping[str, Any], problems: list[tuple[str, str]]) -> Tenant | None:
    """The tenant if the model and the tenant rules accept `entry`; problems otherwise."""
    try:
        tenant = Tenant.model_validate(copy.deepcopy(dict(entry)))
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
            problems.append((where, str(err["msg"])))
        return None
    found = tenant_rules(tenant)
    problems.extend((".".join(str(p) for p in loc), msg) for loc, msg in found)
    return None if found else tenant


def _with_references(cfg: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(dict(cfg))
    for path, ref in refs.items():
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node[part] if part in node else node[_int_key(node, part)]
        node[last if last in node else _int_key(node, last)] = ref
    return out


def _int_key(node: Mapping[Any, Any], part: str) -> Any:
    return next(k for k in node if str(k) == part)


_SAME = object()


def _difference(orig: Any, produced: Any, parts: tuple[str, ...], skip: set[str]) -> Any:
    """What of `orig` the produced settings lack or change (`_SAME` when nothing)."""
    if ".".join(parts) in skip:
        return _SAME
    both_sections = all(
        isinstance(x, Mapping) and not is_msticpy_reference(x) for x in (orig, produced)
    )
    if both_sections:
        out = {}
        for key, value in orig.items():
            diff = _difference(value, produced.get(key, _MISSING), (*parts, str(key)), skip)
            if diff is not _SAME:
                out[key] = diff
        return out if out else _SAME
    return _SAME if orig == produced else orig


_MISSING = object()
