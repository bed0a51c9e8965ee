"""Adding or replacing one tenant in the inventory file, keeping the admin's comments and layout.

A plain load-and-dump would drop every comment and reflow the file; ruamel.yaml's round-trip
mode keeps comments, key order, flow style and quoting of everything it is not asked to change.
The file is only parsed here after `provision.yamlsource` accepted it (size, alias and node
bounds), so ruamel never sees an unbounded document.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from provision.errors import Problem, UserInputError

# Keys `import` writes; any other key of a replaced tenant (users, kernel_mode, secret_prefix,
# the admin's comments on them) is kept as it was.
IMPORTED_KEYS = (
    "tenant_id",
    "subscription_id",
    "resource_group",
    "key_vault",
    "cloud",
    "use_keyring",
    "azure_auth_methods",
    "sentinel",
    "ti_providers",
    "geoip",
    "data_providers",
    "autoload",
    "msticpy",
)


def _yaml(sequence: int = 4, offset: int = 2) -> YAML:
    """Round-trip YAML writing lists as `sequence` (dash at `offset`); mappings by 2 or as given."""
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the admin's long lines
    y.indent(mapping=max(sequence - offset, 2), sequence=sequence, offset=offset)
    return y


def existing_tenant(text: str, name: str) -> dict[str, Any] | None:
    """The raw entry of the tenant called `name` in the inventory text, if there is one."""
    data = _yaml().load(text)
    for entry in _tenants(data, "inventory"):
        if isinstance(entry, Mapping) and entry.get("name") == name:
            plain: dict[str, Any] = _plain(entry)
            return plain
    return None


def put_tenant(
    text: str,
    entry: Mapping[str, Any],
    source: str,
    replace: bool,
    keys: tuple[str, ...] = IMPORTED_KEYS,
) -> str:
    """The inventory text with `entry` appended, or replacing the `keys` of the tenant of the
    same name."""
    y = _file_style(text)
    data = y.load(text)
    tenants = _tenants(data, source)
    index = next(
        (
            i
            for i, t in enumerate(tenants)
            if isinstance(t, Mapping) and t.get("name") == entry["name"]
        ),
        None,
    )
    if index is None:
        tenants.append(_commented(entry))
    elif not replace:
        raise UserInputError(
            [
                Problem(
                    f"tenant {entry['name']!r} is already in the inventory; "
                    "add --replace to replace its imported settings",
                    file=source,
                )
            ]
        )
    else:
        _update(tenants[index], entry, keys)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _file_style(text: str) -> YAML:
    """Round-trip YAML writing lists as the file does. ruamel's guess reads the first nested
    list it meets (a `schedules:` list under `defaults:` gives 6/4 for a file indented 4/2), so
    the usual styles are tried first and the one that writes the file back unchanged wins."""
    _, sequence, offset = load_yaml_guess_indent(text)
    guessed = (sequence or 2, offset or 0)
    for seq, off in dict.fromkeys([(4, 2), (2, 0), guessed]):
        y = _yaml(seq, off)
        out = io.StringIO()
        y.dump(y.load(text), out)
        if out.getvalue() == text:
            return y
    return _yaml(*guessed)


def dump_entry(entry: Mapping[str, Any]) -> str:
    """The entry as a YAML list item, ready to paste under `tenants:`."""
    out = io.StringIO()
    _yaml(4, 2).dump([_commented(entry)], out)
    return out.getvalue()


def _tenants(data: Any, source: str) -> CommentedSeq:
    tenants = data.get("tenants") if isinstance(data, Mapping) else None
    if not isinstance(tenants, list):
        raise UserInputError([Problem("the inventory has no tenants list", file=source)])
    return tenants  # type: ignore[return-value]


def _update(target: CommentedMap, entry: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Set `keys` (in place: comments on untouched keys survive), drop stale ones."""
    for key in keys:
        if key in entry:
            if _plain(target.get(key)) != _plain(entry[key]) and not _in_place(
                target.get(key), entry[key]
            ):
                target[key] = _commented(entry[key])
        elif key in target:
            del target[key]
    for key, value in entry.items():
        if key not in target:
            target[key] = _commented(value)


def _in_place(current: Any, wanted: Any) -> bool:
    """Make `current` equal to `wanted` by changing only what differs, in place (what is kept
    keeps its comments and flow style); False, untouched, when that cannot give `wanted`'s key
    or item order."""
    if isinstance(current, CommentedMap) and isinstance(wanted, Mapping):
        if [k for k in current if k in wanted] != [k for k in wanted if k in current]:
            return False
        for key in [k for k in current if k not in wanted]:
            del current[key]
        for key, value in wanted.items():
            same = key in current and _plain(current[key]) == _plain(value)
            if not same and not (key in current and _in_place(current[key], value)):
                current[key] = _commented(value)
        return list(current) == list(wanted)
    return _list_in_place(current, wanted)


def _list_in_place(current: Any, wanted: Any) -> bool:
    """Make the list `current` equal to `wanted` by dropping and appending items in place (the
    items kept keep their comments and flow style); False, untouched, when that cannot give
    `wanted`'s order."""
    if not isinstance(current, CommentedSeq) or not isinstance(wanted, list):
        return False
    want = [_plain(w) for w in wanted]
    kept = [_plain(c) for c in current if _plain(c) in want]
    extra = [w for w in wanted if _plain(w) not in kept]
    if kept + [_plain(w) for w in extra] != want:
        return False
    for index in reversed(range(len(current))):
        if _plain(current[index]) not in want:
            del current[index]
    current.extend(_commented(w) for w in extra)
    return True


def _commented(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _commented(item)
        return out
    if isinstance(value, list):
        return CommentedSeq(_commented(item) for item in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
