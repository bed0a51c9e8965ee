"""Check a rendered msticpyconfig against msticpy's own setting schema, without importing msticpy.

msticpy describes its settings in ``msticpy/resources/mpconfig_defaults.yaml`` and checks a
config with ``MpConfigControls(get_mpconfig_definitions(), cfg).validate_all_settings()``
(``msticpy/config/mp_config_control.py``). msticpy is heavy and only a test dependency here, so
this package restates those rules as our own declarative table (``schema_table.RULES``) plus a
small walker (this module) that applies them the way msticpy's walker does. The tests compare
both on many configs.

Verdict (what "same result as msticpy" means)
---------------------------------------------
``validate_all_settings()`` returns a list of ``ValidationResult(result, status)``. With the
default ``show_all=False`` only failures (``result`` False) are returned; successful or purely
informational entries ("No definition for path ...", "No setting at path ...") are dropped.
Every failure's ``status`` ends with the offending setting path in quotes (``... path '<p>'``).

* msticpy's verdict is the **set of those paths**, or ``CRASH`` when the constructor or
  ``validate_all_settings()`` raises instead of answering (it does so for some malformed
  inputs, see "fatal" below).
* Our verdict is ``CRASH`` if any returned :class:`SchemaProblem` has ``fatal=True``, else the
  set of ``problem.path``. An empty list means msticpy reports nothing: the config is valid.

The two are equal for every config (tested against msticpy 3.0.2), with two deliberate
exceptions:

* a top-level ``definitions`` key, which msticpy walks against its own internal macro block (and
  can recurse forever on); it is not a setting and we ignore it like any unknown key;
* settings msticpy's code needs but its schema file does not list (``BEYOND_SCHEMA``): today
  ``OtherProviders.GeoIPLite.Args.AccountID``, the MaxMind account ID GeoLiteLookup sends as the
  basic-auth user since msticpy 2.14 (``msticpy/context/geoip.py``). Its problems carry
  ``beyond_schema=True``; the parity tests leave exactly those out of our verdict.

Problems are still reported after a fatal one, so an admin sees everything at once.

The rules msticpy applies (and so do we)
----------------------------------------
* Only settings named in the schema are checked. Unknown sections, unknown keys and unknown
  provider names are accepted silently.
* A section (mapping in the schema) that is missing, null or empty is not checked at all, so
  required keys inside it only count once the section is present. A section given as a
  non-empty non-mapping (text, list, number) makes msticpy's validator raise: fatal.
* Leaves are required unless marked optional, whatever their ``default``. A missing required
  leaf is an error, e.g. ``KeyVault.Authority`` and every TI provider's ``Primary``.
* text: must be a string; any falsy value (``""``, ``0``, ``false``, ``[]``) counts as
  missing, yet a required plain-text setting accepts ``""``. GUID: a non-empty string that
  ``uuid.UUID()`` parses (msticpy's ``is_valid_uuid``; braces and ``urn:uuid:`` pass).
  choice (enum): a string from the list; only null counts as missing, so ``""`` is an error.
  choices (m_enum): a list of allowed strings -- msticpy rejects a plain string even when it
  is an allowed value. flag: a real bool. text list: a list of strings. text map: a mapping of
  string keys to string/int/bool values. Integers (``msticpy.http_timeout``, Splunk ``port``)
  are not checked by msticpy at all.
* ``Provider:`` ids are literals: a provider entry may omit them (or leave them empty), but a
  present value must be exactly msticpy's id (``OPR``, ``AzSTI``, ``Tor``, ...).
* Secrets (``cred_key``): the value as plain text, or a mapping whose *first* key is
  ``EnvironmentVar`` (value: text, required), ``KeyVault`` (value: null or text) or ``str``
  (value: text, required); further keys are ignored. Errors inside the mapping are reported at
  ``<path>.<key>``. An empty mapping makes msticpy raise (fatal).
* The deprecated top-level ``AzureCLI`` section is copied over ``DataProviders.AzureCLI``
  before checking, so its problems show up under both paths; if ``DataProviders`` exists but is
  not a mapping, msticpy raises (fatal).
* ``AzureSentinel.Workspaces``: only ``Default`` is checked; named workspaces are not.
  ``check_msticpyconfig(cfg, named_workspaces=True)`` also checks them with the ``Default``
  rules (what msticpy's settings editor does for one workspace) -- beyond msticpy's verdict.
* ``UserDefaults.QueryProviders`` is only checked under the literal placeholder keys
  ``AzureSentinel.workspace`` and ``provider`` (as msticpy does), i.e. practically never.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from provision.msticpy_contract.schema_table import BEYOND_SCHEMA, RULES, WORKSPACE, Field, Node

__all__ = ["SchemaProblem", "check_msticpyconfig", "is_secret_path", "schema_sections"]


@dataclass(frozen=True)
class SchemaProblem:
    """One setting msticpy would reject.

    ``fatal`` is True where msticpy's own validator raises instead of reporting (a section that
    is not a mapping, an empty secret mapping, a non-text top-level key).
    """

    path: str  # dotted setting path, e.g. "TIProviders.VirusTotal.Args.AuthKey"
    message: str
    fatal: bool = False
    beyond_schema: bool = False  # msticpy's code needs it, its schema file does not say so

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------
_REF_FORMS = "the value as text, {EnvironmentVar: NAME} or {KeyVault: null | 'vault/secret'}"
# First key of a secret mapping -> (value required, what the value should be). The odd "str"
# form is accepted by msticpy (cred_key_opts.one_of lists a "str" alternative).
_SECRET_KEYS: dict[str, tuple[bool, str]] = {
    "str": (True, "the secret value as text"),
    "EnvironmentVar": (True, "the name of the environment variable holding the secret"),
    "KeyVault": (False, "null (secret name derived from the setting path) or 'vault/secret'"),
}


def _expected(field: Field) -> str:
    listed = ", ".join(field.options)
    return {
        "text": "text",
        "guid": "a GUID such as 8ecf8077-cf51-4820-aadd-14040956f35d",
        "choice": f"one of: {listed}",
        "choices": f"a list of any of: {listed}",
        "flag": "true or false",
        "text_map": "a mapping of names to text, number or true/false values",
        "text_list": "a list of text values",
    }.get(field.kind, field.kind)


def _describe(value: Any, *, reveal: bool = True) -> str:
    """Name a value's YAML type (and show it, shortened, unless it may be a secret)."""
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return f"true/false value {str(value).lower()}" if reveal else "a true/false value"
    kind = next((name for typ, name in _TYPE_NAMES if isinstance(value, typ)), type(value).__name__)
    if not reveal:
        return kind if kind == "text" else f"a {kind}"
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 60 else shown[:57] + '...'}"


_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (str, "text"),
    (int, "number"),
    (float, "number"),
    (list, "list"),
    (Mapping, "mapping"),
)


# --------------------------------------------------------------------------------------------
# The walker
# --------------------------------------------------------------------------------------------
class _NotAMapping(Exception):
    def __init__(self, path: str, value: Any) -> None:
        super().__init__(path)
        self.path, self.value = path, value


def _walk(root: Any, parts: list[str]) -> Any:
    """Follow ``parts`` down nested mappings like msticpy's ``_get_elem_from_path``.

    Stops with None at the first missing/null step; raises where msticpy would call ``.get`` on
    something that is not a mapping.
    """
    current = root
    for depth, part in enumerate(parts):
        if not isinstance(current, Mapping):
            raise _NotAMapping(".".join(parts[:depth]), current)
        current = current.get(part)
        if current is None:
            return None
    return current


def _is_guid(value: str) -> bool:
    # Same test as msticpy.common.utility.format.is_valid_uuid.
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _not_a_section(path: str, value: Any) -> SchemaProblem:
    return SchemaProblem(
        path,
        f"must be a section (a mapping of setting names to values), got {_describe(value)}",
        fatal=True,
    )


def _check_node(rule: Node, value: Any, path: str) -> Iterator[SchemaProblem]:
    if not rule:  # no rule: msticpy accepts anything here
        return
    if isinstance(rule, Mapping):
        if not value:  # absent / empty sections are not checked
            return
        if not isinstance(value, Mapping):
            yield _not_a_section(path, value)
            return
        for key, sub_rule in rule.items():
            yield from _check_node(sub_rule, value.get(key), f"{path}.{key}")
        return
    yield from _check_field(rule, value, path)


def _check_field(field: Field, value: Any, path: str) -> Iterator[SchemaProblem]:
    kind = field.kind
    if kind == "unchecked":
        return
    if kind == "provider_id":
        if value and value != field.options[0]:
            yield SchemaProblem(
                path,
                f"must be {field.options[0]!r} (msticpy's id for this provider) or left out, "
                f"got {_describe(value)}",
            )
        return
    if kind == "secret":
        yield from _check_secret(field, value, path)
        return
    # text and GUID leaves treat every falsy value as missing; the others only null.
    missing = value is None or (kind in ("text", "guid") and not value)
    if missing and not field.required:
        return
    if value is None:
        yield SchemaProblem(path, f"required setting is missing; expected {_expected(field)}")
        return
    wrong = _wrong_value(field, value)
    if wrong:
        yield SchemaProblem(path, wrong)


def _wrong_value(field: Field, value: Any) -> str:
    """Why a present value breaks ``field`` ("" if it does not)."""
    kind, expected = field.kind, _expected(field)
    got = f"expected {expected}, got {_describe(value)}"
    if kind in ("text", "guid", "choice"):
        if not isinstance(value, str):
            return got
        if field.options and value not in field.options:
            return f"{value!r} is not allowed; expected {expected}"
        if kind == "guid" and not _is_guid(value):
            return (
                f"{value!r} is not a GUID; expected {expected}"
                if value
                else f"is empty; expected {expected}"
            )
        return ""
    if kind == "flag":
        return "" if isinstance(value, bool) else got
    if kind == "choices":
        if isinstance(value, str):  # msticpy rejects a plain string even if it is allowed
            if value in field.options:
                return f"{value!r} must be written as a list: [{value}]; expected {expected}"
            return f"{value!r} is not allowed; expected {expected}"
        if not isinstance(value, list):
            return got
        unknown = ", ".join(repr(item) for item in value if item not in field.options)
        return f"not allowed: {unknown}; expected {expected}" if unknown else ""
    if kind == "text_list":
        if not isinstance(value, list):
            return got
        bad = [item for item in value if type(item) is not str]
        return f"{_describe(bad[0])} is not text; expected {expected}" if bad else ""
    # text_map
    if not isinstance(value, Mapping):
        return got
    for key, item in value.items():
        if not isinstance(key, str):
            return f"key {key!r} must be text; expected {expected}"
        if not isinstance(item, str | int):  # bool is an int
            return f"value of {key!r} is {_describe(item)}; expected {expected}"
    return ""


def _check_secret(field: Field, value: Any, path: str) -> Iterator[SchemaProblem]:
    if value is None:
        if field.required:
            yield SchemaProblem(path, f"required secret is missing; expected {_REF_FORMS}")
        return
    if isinstance(value, str):
        return
    if not isinstance(value, Mapping):
        yield SchemaProblem(path, f"expected {_REF_FORMS}, got {_describe(value, reveal=False)}")
        return
    if not value:
        yield SchemaProblem(path, f"empty mapping; expected {_REF_FORMS}", fatal=True)
        return
    key, inner = next(iter(value.items()))  # msticpy looks at the first key only
    if key not in _SECRET_KEYS:
        yield SchemaProblem(path, f"{key!r} is not a secret reference form; expected {_REF_FORMS}")
        return
    required, expected = _SECRET_KEYS[key]
    sub_path = f"{path}.{key}"
    reveal = key != "str"
    if not inner:  # null and other falsy values count as missing (as for text settings)
        if not required:
            return
        if inner is None:
            yield SchemaProblem(sub_path, f"needs a value: {expected}")
            return
    if not isinstance(inner, str):
        yield SchemaProblem(sub_path, f"expected {expected}, got {_describe(inner, reveal=reveal)}")


_NAMED_WORKSPACE = re.compile(r"(?P<root>AzureSentinel\.Workspaces\.)([^.]+)")


def _check_top(cfg: Mapping[str, Any], key: str) -> Iterator[SchemaProblem]:
    """Check one top-level key; like msticpy, a dotted key is read as a setting path."""
    parts = key.split(".")
    try:
        rule: Node = _walk(RULES, parts)
        if rule is None and key.startswith("AzureSentinel.Workspaces"):
            rule = _walk(RULES, _NAMED_WORKSPACE.sub(r"\1Default", key).split("."))
    except _NotAMapping:
        yield SchemaProblem(key, "is not a msticpy section (it runs into a setting)", fatal=True)
        return
    try:
        value = _walk(cfg, parts)
    except _NotAMapping as exc:
        yield _not_a_section(exc.path, exc.value)
        return
    yield from _check_node(rule, value, key)


def check_msticpyconfig(
    cfg: Mapping[str, Any], *, named_workspaces: bool = False
) -> list[SchemaProblem]:
    """Return every setting msticpy's validator would reject in ``cfg`` (empty: valid).

    ``cfg`` is the parsed msticpyconfig.yaml. See the module docstring for the exact contract.
    With ``named_workspaces=True`` the workspaces beyond ``Default`` are checked as well
    (msticpy does not); those extra problems are never fatal.
    """
    problems: list[SchemaProblem] = []
    view = dict(cfg)
    if "AzureCLI" in view:  # msticpy copies the deprecated section into DataProviders
        data_providers = view.get("DataProviders", {})
        if isinstance(data_providers, Mapping):
            view["DataProviders"] = {**data_providers, "AzureCLI": view["AzureCLI"]}
        else:
            problems.append(
                SchemaProblem(
                    "DataProviders",
                    "must be a mapping of data provider settings (msticpy copies the top-level "
                    f"AzureCLI section into it), got {_describe(data_providers)}",
                    fatal=True,
                )
            )
            view["DataProviders"] = None
    for key in view:
        if not isinstance(key, str):
            problems.append(SchemaProblem(str(key), "section names must be text", fatal=True))
            continue
        problems.extend(_check_top(view, key))
    problems.extend(_beyond_schema(view))
    if named_workspaces:
        try:
            workspaces = _walk(view, ["AzureSentinel", "Workspaces"])
        except _NotAMapping:
            workspaces = None  # already reported
        if isinstance(workspaces, Mapping):
            for name, workspace in workspaces.items():
                if name != "Default":
                    path = f"AzureSentinel.Workspaces.{name}"
                    problems.extend(
                        replace(problem, fatal=False)
                        for problem in _check_node(WORKSPACE, workspace, path)
                    )
    return problems


def schema_sections() -> tuple[str, ...]:
    """The top-level sections msticpy's schema describes."""
    return tuple(RULES)


def is_secret_path(parts: Sequence[str]) -> bool:
    """Is the setting at ``parts`` a secret (``cred_key``) in msticpy's schema?"""
    node: Node = RULES
    for part in parts:
        if not isinstance(node, Mapping):
            return False
        node = node.get(part)
    return isinstance(node, Field) and node.kind == "secret"


def _beyond_schema(cfg: Mapping[str, Any]) -> Iterator[SchemaProblem]:
    """Check the settings of ``BEYOND_SCHEMA`` whose section is present."""
    for path, rule in BEYOND_SCHEMA.items():
        *parents, leaf = path.split(".")
        try:
            section = _walk(cfg, parents)
        except _NotAMapping:
            continue  # already reported by the schema walk
        if not isinstance(section, Mapping) or not section:
            continue
        value = section.get(leaf)
        found = list(_check_field(rule, value, path))
        if value == "":  # msticpy sends it as a user name: empty is as good as missing
            found = [SchemaProblem(path, f"is empty; expected {_expected(rule)}")]
        for problem in found:
            yield replace(
                problem,
                message=f"{problem.message} (msticpy reads it, its schema file does not list it)",
                beyond_schema=True,
            )
