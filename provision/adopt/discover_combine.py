"""From a discovered estate to one tenant entry: users matched to compute instances, the
analysts' configs through `import`'s mapping, and what does not fit, said plainly.

- **Users.** Each `Users/<alias>` folder is a user. Its compute instance is the one with the
  tool's default name for the alias, else the one instance whose name starts with the alias's
  first word (`carol.jones` -> `carol-hunting`) when no other folder claims it; the instance's
  assigned user (`properties.properties.personalComputeInstanceSettings.assignedUser.objectId`,
  machinelearningservices ComputeInstance) is the user's `object_id`. Folders without an
  instance and instances without a folder are listed.
- **Settings.** Each analyst's config is imported on its own (`provision.adopt.mapping`). The
  entry most analysts' configs give (plaintext values compared too, by digest) becomes the
  tenant's fields; the default Sentinel workspace is the one most configs name. The inventory has
  no per-user msticpy settings, so every other analyst's difference is reported by alias and
  setting (never a value): apply would give them the tenant's settings.
- **Sentinel.** Workspaces the configs name keep their names; a Sentinel-enabled Log Analytics
  workspace no config names is added under its own name, with its coordinates.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from provision.adopt.discover import Estate, LogAnalytics
from provision.adopt.mapping import ImportFailed, ImportResult, Placement, import_config
from provision.errors import UserInputError
from provision.inventory.compute_names import default_compute_name
from provision.inventory.fields import Alias
from provision.inventory.model import Tenant
from provision.msticpy_contract.block import is_msticpy_reference, walk
from provision.msticpy_contract.secret_names import secret_pushes, vault_secret
from provision.render import MSTICPYCONFIG
from provision.secrets import SecretValue
from provision.share import USERS
from provision.workspace import ComputeInfo
from provision.yamlsource import load_yaml_text

_ALIAS: TypeAdapter[str] = TypeAdapter(Alias)
NO_PER_USER = (
    "the inventory has no per-user msticpy settings: apply gives these analysts the tenant's "
    "settings, and what they set differently is lost"
)


@dataclass
class Discovered:
    """The tenant entry and what the admin must know about it (never a secret value)."""

    entry: dict[str, Any]
    plaintext: dict[str, SecretValue]  # setting path -> value, of the configs the entry took
    report: list[str] = field(default_factory=list)  # one line each
    differences: list[str] = field(default_factory=list)  # "alias: setting: what"


def combine(
    estate: Estate,
    name: str,
    tenant_id: str,
    reference: Callable[[str], str],
) -> Discovered:
    """The tenant entry for `estate` (raises ImportFailed when no entry can be built)."""
    ws = estate.workspace
    coords = (tenant_id, ws.subscription_id, ws.resource_group, ws.name)
    report = [f"ML workspace: {ws}"]
    users, lines = match_users(estate.folders, estate.info.computes, coords)
    report += lines
    report += [f"note: {n}" for n in estate.notes]
    configs, problems = _parsed(estate.configs)
    vault = _most_common(_vault_names(configs)) or estate.info.key_vault or ""
    place = Placement(name, tenant_id, ws.subscription_id, ws.resource_group, ws.name, vault, users)
    imported: dict[str, ImportResult] = {}
    for alias, cfg in configs.items():
        try:
            imported[alias] = import_config(cfg, place, reference)
        except ImportFailed as exc:
            problems += [f"{alias}: {where}: {message}" for where, message in exc.problems]
    differences = [f"{p} (config not used)" for p in problems]
    if not imported:
        entry = _bare_entry(place, estate.sentinel, report)
        return Discovered(entry, {}, report, differences)
    chosen = _majority(imported)
    result = imported[chosen[0]]
    entry = dict(result.entry)
    entry["users"] = users
    entry["sentinel"] = _sentinel(entry["sentinel"], imported, estate.sentinel, place, report)
    report.append(
        f"settings from {len(chosen)} of {len(imported)} analysts' configs: {', '.join(chosen)}"
    )
    for alias in sorted(imported):
        if alias not in chosen:
            for path, what in _differ(imported[alias], result):
                differences.append(f"{alias}: {path}: {what}")
    for alias in sorted(set(users_aliases(users)) - set(estate.configs)):
        report.append(f"no {USERS}/{alias}/{MSTICPYCONFIG}: nothing to read for {alias}")
    return Discovered(entry, result.plaintext, report, differences)


def users_aliases(users: list[Any]) -> list[str]:
    return [u if isinstance(u, str) else str(u["alias"]) for u in users]


# --- users ---------------------------------------------------------------------------------------


def match_users(
    folders: list[str], computes: Mapping[str, ComputeInfo], coords: tuple[str, str, str, str]
) -> tuple[list[Any], list[str]]:
    """`users:` entries for the folders, and report lines for what could not be matched."""
    report: list[str] = []
    aliases = []
    for folder in folders:
        try:
            aliases.append(_ALIAS.validate_python(folder))
        except ValidationError as exc:
            reason = exc.errors(include_url=False)[0]["msg"]
            report.append(f"folder {USERS}/{folder} is not a user alias ({reason}): skipped")
    by_name = {c.casefold(): c for c in computes}
    matched: dict[str, str] = {}  # alias -> compute name
    for alias in aliases:
        default = default_compute_name(alias, *coords).casefold()
        if default in by_name:
            matched[alias] = by_name.pop(default)
    claims: dict[str, list[str]] = {}
    for alias in aliases:
        if alias in matched:
            continue
        word = re.split(r"[^a-z0-9]+", alias.casefold())[0]
        for key in by_name:
            if word and (key == word or key.startswith(word + "-")):
                claims.setdefault(key, []).append(alias)
    for key, who in claims.items():
        alone = len(who) == 1 and sum(who[0] in w for w in claims.values()) == 1
        if alone and who[0] not in matched:
            matched[who[0]] = by_name.pop(key)
    users: list[Any] = []
    for alias in aliases:
        compute = matched.get(alias)
        if compute is None:
            report.append(f"folder {USERS}/{alias} has no compute instance")
            users.append(alias)
            continue
        entry: dict[str, Any] = {"alias": alias}
        if compute.casefold() != default_compute_name(alias, *coords).casefold():
            entry["compute"] = compute
        owner = computes[compute].assigned_object_id
        if owner:
            entry["object_id"] = owner
        users.append(entry if len(entry) > 1 else alias)
    for compute in sorted(by_name.values()):
        owner = computes[compute].assigned_object_id or "no assigned user"
        report.append(f"compute instance {compute} ({owner}) has no user folder: not added")
    return users, report


# --- configs -------------------------------------------------------------------------------------


def _parsed(texts: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for alias, text in sorted(texts.items()):
        where = f"{USERS}/{alias}/{MSTICPYCONFIG}"
        try:
            doc = load_yaml_text(text, where)
        except UserInputError as exc:
            problems += [f"{alias}: {p.message}" for p in exc.problems]
            continue
        if isinstance(doc.data, dict):
            out[alias] = doc.data
        else:
            problems.append(f"{alias}: {where} is not a mapping of msticpy sections")
    return out, problems


def _vault_names(configs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    out = []
    for cfg in configs.values():
        kv = cfg.get("KeyVault")
        if isinstance(kv, Mapping) and isinstance(kv.get("VaultName"), str) and kv["VaultName"]:
            out.append(str(kv["VaultName"]))
    return out


def _most_common(values: list[str]) -> str | None:
    """The most frequent value; among equals, the first seen."""
    return Counter(values).most_common(1)[0][0] if values else None


def _fingerprint(result: ImportResult) -> str:
    """The entry as JSON, and a digest of each plaintext value (two analysts with the same
    reference but different keys do not share settings); never shown."""
    secrets = {
        path: hashlib.sha256(value.reveal().encode("utf-8")).hexdigest()
        for path, value in result.plaintext.items()
    }
    entry = {k: v for k, v in result.entry.items() if k not in ("users", "sentinel")}
    ids = sorted(str(w.get("workspace_id")) for w in result.entry.get("sentinel", []))
    return json.dumps([entry, ids, secrets], sort_keys=True, default=str)


def _majority(imported: Mapping[str, ImportResult]) -> list[str]:
    """The aliases of the largest group of analysts whose configs give the same entry."""
    groups: dict[str, list[str]] = {}
    for alias in sorted(imported):
        groups.setdefault(_fingerprint(imported[alias]), []).append(alias)
    return max(groups.values(), key=len)  # ties: the group of the first alias


def _differ(theirs: ImportResult, chosen: ImportResult) -> list[tuple[str, str]]:
    """(setting path, what) where an analyst's config differs from the tenant's."""
    mine = dict(_leaves(theirs.original))
    base = dict(_leaves(chosen.original))
    out = []
    for path in sorted(set(mine) | set(base)):
        if path not in base:
            out.append((path, "set only in their config"))
        elif path not in mine:
            out.append((path, "not in their config"))
        elif mine[path] != base[path] or (
            path in theirs.plaintext and theirs.plaintext[path] != chosen.plaintext.get(path)
        ):
            out.append((path, "differs"))
    return out


def _leaves(cfg: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        (".".join(parts), value)
        for parts, value in walk(cfg)
        if not isinstance(value, Mapping) or is_msticpy_reference(value)
    ]


# --- Sentinel --------------------------------------------------------------------------------


def _sentinel(
    named: list[dict[str, Any]],
    imported: Mapping[str, ImportResult],
    found: list[LogAnalytics],
    place: Placement,
    report: list[str],
) -> list[dict[str, Any]]:
    """The configs' workspaces, the default the one most configs name, then the Sentinel-enabled
    workspaces no config names."""
    defaults = [
        str(w.get("workspace_id")).casefold()
        for r in imported.values()
        for w in r.entry.get("sentinel", [])
        if w.get("default")
    ]
    default = _most_common(defaults)
    out = [dict(w) for w in named]
    if default and any(str(w["workspace_id"]).casefold() == default for w in out):
        for w in out:
            w.pop("default", None)
            if str(w["workspace_id"]).casefold() == default:
                w["default"] = True
    known = {str(w["workspace_id"]).casefold() for w in out}
    taken = {str(w["name"]).casefold() for w in out}
    for law in found:
        if law.customer_id.casefold() in known:
            continue
        out.append(_law_entry(law, place, taken))
        report.append(f"Sentinel workspace {law.name} is in no analyst's config: added")
    return out


def _law_entry(law: LogAnalytics, place: Placement, taken: set[str]) -> dict[str, Any]:
    key = re.sub(r"[^A-Za-z0-9_-]", "-", law.name)[:63]
    while key.casefold() in taken:
        key = f"{key[:60]}-{len(taken)}"
    taken.add(key.casefold())
    item: dict[str, Any] = {
        "name": key,
        "workspace_id": law.customer_id,
        "workspace_name": law.name,
    }
    if law.subscription_id.casefold() != str(place.subscription_id).casefold():
        item["subscription_id"] = law.subscription_id
    if law.resource_group.casefold() != str(place.resource_group).casefold():
        item["resource_group"] = law.resource_group
    return item


def _bare_entry(place: Placement, found: list[LogAnalytics], report: list[str]) -> dict[str, Any]:
    """No analyst config to read: the coordinates, the users and the Sentinel workspaces."""
    taken: set[str] = set()
    sentinel = [_law_entry(law, place, taken) for law in found]
    if not sentinel:
        raise UserInputError(
            [
                f"tenant {place.name}: no analyst config to read and no Log Analytics workspace "
                "with Microsoft Sentinel enabled in the subscription(s): nothing to build "
                "the tenant's sentinel: list from"
            ]
        )
    sentinel[0]["default"] = True
    report.append(f"no analyst config names a default workspace: {sentinel[0]['name']}")
    return {
        "name": place.name,
        "tenant_id": place.tenant_id,
        "subscription_id": place.subscription_id,
        "resource_group": place.resource_group,
        "ml_workspace": place.ml_workspace,
        "key_vault": place.key_vault,
        "sentinel": sentinel,
        "users": place.users,
    }


# --- an existing tenant ------------------------------------------------------------------------


def keep_pushed_sources(entry: dict[str, Any], old: Tenant) -> tuple[dict[str, Any], int]:
    """`entry` with each `keyvault:NAME` the existing tenant pushes as NAME (to the same vault)
    given back its `env:`/`file:` source, so that apply keeps pushing (and rotating) it; and how
    many were kept."""
    same_vault = str(entry.get("key_vault", "")).casefold() == old.key_vault.casefold()
    pushed = {p.name.casefold(): p.source for p in secret_pushes(old)} if same_vault else {}
    kept = 0

    def swap(node: Any) -> Any:
        nonlocal kept
        if isinstance(node, Mapping):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        name = vault_secret(node) if isinstance(node, str) else None
        if name is not None and name.casefold() in pushed:
            kept += 1
            return pushed[name.casefold()]
        return node

    out: dict[str, Any] = swap(entry)
    return out, kept


def keep_unchanged(
    old: Mapping[str, Any],
    entry: dict[str, Any],
    keys: tuple[str, ...],
    outcome: Callable[[dict[str, Any]], Any],
    report: list[str],
) -> dict[str, Any]:
    """`entry`, with each of `keys` as the existing entry `old` has it wherever that gives the
    same `outcome` (what the tenant renders and pushes), and the existing users' own entries for
    the analysts still found: an unchanged tenant stays as the admin wrote it, so a replace
    shows only what really changed."""
    out = dict(entry)
    aliases = {
        str(u if isinstance(u, str) else u.get("alias")).casefold(): u
        for u in old.get("users") or []
    }
    found = users_aliases(out.get("users") or [])
    out["users"] = [
        aliases.get(a.casefold(), u) for a, u in zip(found, out.get("users") or [], strict=True)
    ]
    for alias in aliases:
        if alias not in {a.casefold() for a in found}:
            report.append(f"user {alias} of the inventory has no folder on the share: removed")
    target = outcome(out)
    for key in keys:
        trial = dict(out)
        if key in old:
            trial[key] = old[key]
        else:
            trial.pop(key, None)
        if trial == out:
            continue
        try:
            same = outcome(trial) == target
        except UserInputError:
            same = False
        if same:
            out = trial
    return out
