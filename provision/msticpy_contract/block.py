"""The `msticpy:` block: any msticpy settings, in msticpy's own structure, merged into the render.

Rules (docs/inventory.md, "The `msticpy:` block", states them for admins):

* **Merge.** The block (from `defaults`, then the tenant's own, merged like every other key) is
  deep-merged over the settings the inventory's fields produce: mappings merge key by key,
  every other value (text, number, list, null) replaces. So **the block wins** where it sets a
  key the fields also produce; `validate` names every such override. It is the escape hatch for
  what the model cannot say (a workspace in another tenant, a provider's extra argument).
* **Keys the tool owns are refused**: the `KeyVault` connection settings (the vault msticpy
  reads must be the vault apply writes to: set `key_vault`, `tenant_id`, `subscription_id`,
  `resource_group`, `cloud`, `use_keyring`), `Azure.cloud` (set `cloud`), and every secret
  setting the fields already provide (the pushed name is tied to it).
* **Secrets.** Every text value `env:NAME` or `file:PATH` anywhere in the block is a secret
  reference, resolved like the modelled ones: the rendered value becomes `{KeyVault: <secret name>}`
  (or `{EnvironmentVar: NAME}` with `secret_store: env`) and apply
  pushes it under the name msticpy computes from the setting path. A literal value where msticpy
  expects a secret is refused (its value is never shown). Existing msticpy references
  (`{KeyVault: ...}`, `{EnvironmentVar: ...}`) pass through unchanged.

This module is pure data handling (no imports of the rest of the contract) so that the secret
names, the settings builder and the rules can all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from provision.msticpy_contract.schema import is_secret_path, schema_sections

REFERENCE_PREFIXES = ("env:", "file:", "keyvault:")

# msticpy's top-level sections: its schema's, plus those msticpy 3.0.2 reads without a schema
# entry (get_config("KustoClusters") in data/drivers/azure_kusto_driver.py, "Pivots.*" in
# init/pivot_init/pivot_data_queries.py, "Logging.*" in init/logging.py, "LocalData.data_paths"
# in data/drivers/local_data_driver.py, "http_timeout" in common/pkg_config.py).
KNOWN_SECTIONS: tuple[str, ...] = (
    *schema_sections(),
    "KustoClusters",
    "Pivots",
    "Logging",
    "LocalData",
    "http_timeout",
)

# Keys the tool owns -> the inventory field(s) to set instead.
OWNED: dict[str, str] = {
    "KeyVault.TenantId": "tenant_id",
    "KeyVault.SubscriptionId": "subscription_id",
    "KeyVault.ResourceGroup": "resource_group",
    "KeyVault.VaultName": "key_vault",
    "KeyVault.Authority": "cloud",
    "KeyVault.UseKeyring": "use_keyring",
    "Azure.cloud": "cloud",
}

# Setting names that hold credentials wherever they appear (msticpy's schema marks the known
# ones as secrets; custom providers use the same names).
_SECRET_NAME = re.compile(
    r"(?i)(auth_?key|api_?key|client_?secret|password|access_?key|secret|token)"
)

Reference = Callable[[str, str], Any]  # (setting path, env:/file: source) -> rendered value


def is_reference(value: Any) -> bool:
    """True for an `env:NAME` / `file:PATH` / `keyvault:NAME` text value."""
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES)


def is_secret_setting(parts: tuple[str, ...]) -> bool:
    """Does msticpy read the setting at `parts` as a credential (schema `cred_key`, or by name)?"""
    return bool(parts and _SECRET_NAME.fullmatch(parts[-1])) or is_secret_path(parts)


def walk(node: Any, parts: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) below a mapping, leaves and sections alike (lists are leaves)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            path = (*parts, str(key))
            yield path, value
            if isinstance(value, Mapping) and not is_msticpy_reference(value):
                yield from walk(value, path)


def is_msticpy_reference(value: Any) -> bool:
    """A msticpy secret mapping such as {KeyVault: null} or {EnvironmentVar: NAME}."""
    # One key naming the store, with a name (or null) as its value; a section that happens to
    # be called KeyVault (the top-level one) holds a mapping instead.
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key, inner = next(iter(value.items()))
    return key in ("KeyVault", "EnvironmentVar") and (inner is None or isinstance(inner, str))


def block_references(block: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dotted setting path, env:/file: source) for every reference in the block, in order."""
    return [(".".join(path), value) for path, value in walk(block) if is_reference(value)]


def merge_block(cfg: Mapping[str, Any], block: Mapping[str, Any], ref: Reference) -> dict[str, Any]:
    """`cfg` with the block deep-merged over it (the block wins), references made msticpy's."""
    merged: dict[str, Any] = _merge(dict(cfg), block, (), ref)
    return merged


def _merge(base: Any, over: Any, parts: tuple[str, ...], ref: Reference) -> Any:
    if isinstance(over, Mapping) and not is_msticpy_reference(over):
        merged = dict(base) if isinstance(base, Mapping) else {}
        for key, value in over.items():
            merged[key] = _merge(merged.get(key), value, (*parts, str(key)), ref)
        return merged
    if is_reference(over):
        return ref(".".join(parts), over)
    return over


def overrides(produced: Mapping[str, Any], merged: Mapping[str, Any]) -> list[str]:
    """Dotted paths where the merged settings differ from what the inventory's fields produced."""
    out: list[str] = []
    for path, value in walk(produced):
        if isinstance(value, Mapping) and not is_msticpy_reference(value):
            continue
        node: Any = merged
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node != value:
            out.append(".".join(path))
    return out
