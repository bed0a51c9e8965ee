"""What the inventory's loader checks in a tenant's `msticpy:` block (one problem per line).

Each problem is `(location inside the tenant, message)`, located at the block's own key so the
loader can say FILE:LINE. Secret values are never part of a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from provision.errors import did_you_mean
from provision.inventory.fields import SecretRef
from provision.inventory.model import Tenant
from provision.msticpy_contract.block import (
    KNOWN_SECTIONS,
    OWNED,
    is_reference,
    is_secret_setting,
    overrides,
    walk,
)
from provision.msticpy_contract.schema import check_msticpyconfig
from provision.msticpy_contract.secret_names import secret_settings
from provision.msticpy_contract.settings import build_msticpyconfig

Loc = tuple[str | int, ...]
_SECRET_REF: TypeAdapter[str] = TypeAdapter(SecretRef)


def without_block(t: Tenant) -> Tenant:
    """The tenant as its modelled fields alone describe it."""
    return t.model_copy(update={"msticpy": {}})


def block_overrides(t: Tenant) -> list[str]:
    """Setting paths where the block replaces a value the inventory's fields produce."""
    if not t.msticpy:
        return []
    return overrides(build_msticpyconfig(without_block(t)), build_msticpyconfig(t))


def block_problems(t: Tenant) -> list[tuple[Loc, str]]:
    """Every problem of the tenant's msticpy: block (empty when it has none)."""
    block = t.msticpy
    if not block:
        return []
    out: list[tuple[Loc, str]] = []
    for key in block:
        if key not in KNOWN_SECTIONS:
            hint = did_you_mean(str(key), list(KNOWN_SECTIONS))
            out.append((("msticpy", key), f"not a msticpy section{hint}"))
    modelled = {s.setting_path: s for s in secret_settings(without_block(t))}
    for parts, value in walk(block):
        where: Loc = ("msticpy", *parts)
        dotted = ".".join(parts)
        if dotted in OWNED:
            field = OWNED[dotted]
            out.append(
                (where, f"{dotted} is set by the tool from the tenant's {field}; set {field}")
            )
        elif dotted in modelled:
            out.append(
                (
                    where,
                    f"{dotted} is a secret the inventory's fields already provide; set it there",
                )
            )
        elif is_reference(value):
            out.extend((where, message) for message in _reference_problems(value))
        elif isinstance(value, str) and value and is_secret_setting(parts):
            out.append(
                (
                    where,
                    "holds a literal value where msticpy expects a secret; write env:NAME or "
                    "file:PATH instead (the value is not shown)",
                )
            )
        elif isinstance(value, list) and any(is_reference(item) for item in value):
            out.append((where, "secret references (env:/file:) are not supported inside lists"))
    out.extend(_schema_problems(t, block))
    return out


def _reference_problems(value: str) -> list[str]:
    try:
        _SECRET_REF.validate_python(value)
    except ValidationError as exc:
        return [str(err["msg"]) for err in exc.errors(include_url=False, include_input=False)]
    return []


def _schema_problems(t: Tenant, block: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """msticpy's schema on the merged settings, for the settings the block touches."""
    out: list[tuple[Loc, str]] = []
    for problem in check_msticpyconfig(build_msticpyconfig(t)):
        parts = problem.path.split(".")
        depth = _depth_in(block, parts)
        if depth < min(2, len(parts)):
            continue  # not the block's doing: reported with the rendered config
        rest = ".".join(parts[depth:])
        out.append(
            (("msticpy", *parts[:depth]), f"{rest}: {problem.message}" if rest else problem.message)
        )
    return out


def _depth_in(block: Mapping[str, Any], parts: list[str]) -> int:
    """How many leading parts of a setting path the block itself spells out."""
    node: Any = block
    for depth, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            return depth
        node = node[part]
    return len(parts)
