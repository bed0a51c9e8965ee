"""Loading the inventory: read (bounded), merge `defaults` into each tenant, validate, and report
every problem at once as `FILE:LINE: tenants[1].sentinel[0].workspace_id: message`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from provision.errors import Problem, UserInputError, did_you_mean
from provision.inventory.compute_names import fleet_compute_name_problems
from provision.inventory.model import Inventory, Tenant
from provision.inventory.rules import fleet_rules, tenant_rules, tenant_warnings
from provision.inventory.shared_workspaces import shared_user_folder_problems
from provision.yamlsource import PathKey, YamlDocument, load_yaml_text, read_text_bounded

_TOP_KEYS = ("version", "defaults", "tenants")
# Tenant keys whose mapping replaces the defaults' as a whole instead of merging key by key:
# `secret_expiry: {expires: ...}` in a tenant must not inherit the defaults' `expires_in`.
_WHOLE_KEYS = ("secret_expiry",)


def load_inventory(path: str | Path) -> Inventory:
    """Read, merge and validate an inventory file; raise UserInputError listing every problem."""
    p = Path(path)
    text = read_text_bounded(p, "inventory")
    return load_inventory_text(text, p)


def load_inventory_text(text: str, path: Path) -> Inventory:
    """Validate inventory text as if it were the file at `path` (used for git history, too)."""
    doc = load_yaml_text(text, str(path))
    raw = doc.data
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def at(loc: PathKey, message: str) -> Problem:
        return Problem(message, file=str(path), line=doc.line_of(loc), path=_dotted(loc) or None)

    if not isinstance(raw, dict):
        raise UserInputError([at((), "the inventory must be a mapping with version and tenants")])
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(at((key,), f"unknown key{did_you_mean(str(key), list(_TOP_KEYS))}"))
    if type(raw.get("version")) is not int or raw["version"] != 1:  # not true, not 1.0
        problems.append(at(("version",), "version must be 1"))
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(at(("defaults",), "defaults must be a mapping"))
        defaults = {}
    for key in list(defaults):
        if key == "name" or key not in Tenant.model_fields:
            problems.append(
                at(("defaults", key), f"unknown key{did_you_mean(str(key), _tenant_keys())}")
            )
            defaults = {k: v for k, v in defaults.items() if k != key}  # reported once, here
    raw_tenants = raw.get("tenants")
    if not isinstance(raw_tenants, list) or not raw_tenants:
        problems.append(at(("tenants",), "tenants must be a non-empty list"))
        raise UserInputError(problems)

    tenants: list[Tenant] = []
    for index, entry in enumerate(raw_tenants):
        if not isinstance(entry, dict):
            problems.append(at(("tenants", index), "each tenant must be a mapping"))
            continue
        merged = _merge(defaults, entry)
        merged.update({k: copy.deepcopy(entry[k]) for k in _WHOLE_KEYS if k in entry})
        try:
            tenant = Tenant.model_validate(merged)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, index, entry, doc, path))
            continue
        tenant_problems = tenant_rules(tenant)
        problems.extend(at(_origin(doc, index, entry, loc), msg) for loc, msg in tenant_problems)
        warnings.extend(
            at(_origin(doc, index, entry, loc), f"tenant {tenant.name}: {msg}")
            for loc, msg in tenant_warnings(tenant)
        )
        tenants.append(tenant)

    seen: dict[str, int] = {}
    for index, entry in enumerate(raw_tenants):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    at(
                        ("tenants", index, "name"),
                        f"duplicate tenant name {name!r} (also tenants[{seen[name]}])",
                    )
                )
            else:
                seen[name] = index
    if not problems:
        problems.extend(fleet_rules(tenants, path, doc))
        problems.extend(fleet_compute_name_problems(tenants, path, doc))
        problems.extend(shared_user_folder_problems(tenants, path, doc))
    if problems:
        problems = list(dict.fromkeys(problems))  # a default's problem is found for each tenant
        problems.sort(key=lambda p: p.line or 0)
        raise UserInputError(problems)
    return Inventory(
        path=path,
        version=1,
        tenants=tenants,
        warnings=tuple(dict.fromkeys(warnings)),
        lines=doc.lines,
    )


def _tenant_keys() -> list[str]:
    return [k for k in Tenant.model_fields if k != "name"]


def _merge(defaults: Any, own: Any) -> Any:
    """Deep-merge `own` over `defaults`: mappings merge, everything else is replaced."""
    if isinstance(defaults, dict) and isinstance(own, dict):
        merged = copy.deepcopy(defaults)
        for key, value in own.items():
            merged[key] = _merge(defaults[key], value) if key in defaults else value
        return merged
    return own


def _pydantic_problems(
    exc: ValidationError, index: int, own: dict[str, Any], doc: YamlDocument, path: Path
) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = _clean_loc(err["loc"])
        if err["type"] == "extra_forbidden" and err["loc"]:
            # The unknown key itself, verbatim (_clean_loc would drop a key such as "a[0]").
            loc = (*_clean_loc(err["loc"][:-1]), err["loc"][-1])
        origin = _origin(doc, index, own, loc)
        message = _message(err, loc)
        if err["type"] == "extra_forbidden":
            problems.append(
                Problem(message, file=str(path), line=doc.line_of(origin), path=_dotted(origin))
            )
        else:
            problems.append(
                Problem(message, file=str(path), line=doc.line_of(origin), path=_dotted(origin))
            )
    return problems


def _origin(doc: YamlDocument, index: int, own: dict[str, Any], loc: PathKey) -> PathKey:
    """Where a tenant's value came from: the tenant itself or the defaults, whichever holds
    more of the path (a key merged in from defaults is found only there)."""
    origin: PathKey = ("tenants", index, *loc)
    if loc and ("defaults", loc[0]) in doc.lines:
        in_defaults = _known_depth(doc, ("defaults", *loc)) - 1
        in_tenant = _known_depth(doc, origin) - 2
        if loc[0] not in own or in_defaults > in_tenant:
            origin = ("defaults", *loc)
    return origin


def _known_depth(doc: YamlDocument, path: PathKey) -> int:
    """How many leading parts of `path` the document has a line for."""
    return max((end for end in range(len(path) + 1) if path[:end] in doc.lines), default=0)


def _clean_loc(loc: tuple[int | str, ...]) -> PathKey:
    """Drop pydantic's union-branch labels (e.g. 'str', 'User', 'function-after[...]')."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            part in {"str", "User", "int", "bool", "list", "dict"}
            or "[" in part
            or part.startswith("function-")
        ):
            continue
        out.append(part)
    return tuple(out)


def _message(err: Any, loc: PathKey) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        choices = list(parent.model_fields) if parent else []
        return f"unknown key{did_you_mean(str(loc[-1]), choices)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"not one of the allowed values: {expected}"
    if kind in {
        "string_type",
        "bool_type",
        "int_type",
        "list_type",
        "model_type",
        "dict_type",
        "bool_parsing",
        "int_parsing",
        "model_attributes_type",
    }:
        return {
            "string_type": "must be a string",
            "bool_type": "must be true or false",
            "bool_parsing": "must be true or false",
            "int_type": "must be a whole number",
            "int_parsing": "must be a whole number",
            "list_type": "must be a list",
            "model_type": "must be a mapping",
            "dict_type": "must be a mapping",
            "model_attributes_type": "must be a mapping",
        }[kind]
    if kind == "too_short":
        return "must not be empty"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _model_at(loc: PathKey) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at `loc` inside a tenant."""
    model: type[BaseModel] = Tenant
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = _models_in(field.annotation)
        if not nested:
            return None
        model = nested[0]
    return model


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is Annotated:
        found.extend(_models_in(annotation.__origin__))
    return found


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        text = str(part)
        if not text.isprintable():  # a key with control characters must not reach a terminal raw
            text = repr(text)
        out += f"[{part}]" if isinstance(part, int) else (f".{text}" if out else text)
    return out
