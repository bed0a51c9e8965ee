"""The JSON document of `plan --json` (and apply, verify, onboard) is the one documented in
docs/plan-output.md: the output validates against docs/plan-output.schema.json, the schema is
strict enough to refuse a document that drifts, and every key it lists is described on the page.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from markdown_docs import DOCS
from support import run_invoke

from provision.emulator import Emulator
from provision.plan import Action, Change, Kind, TenantPlan, TenantResult
from provision.report import SCHEMA_VERSION, as_document

SCHEMA_FILE = DOCS / "plan-output.schema.json"
PAGE = DOCS / "plan-output.md"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def _run_json(task: str, fleet: Path, emu: Emulator, *extra: str) -> dict[str, Any]:
    res = run_invoke(
        task, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), "--json", *extra
    )
    assert res.returncode == 0, res.stdout + res.stderr
    document: dict[str, Any] = json.loads(res.stdout)
    return document


def test_plan_json_validates_against_the_documented_schema(
    fleet: Path, emu: Emulator, validator: Draft202012Validator
) -> None:
    document = _run_json("plan", fleet, emu)
    assert _errors(validator, document) == []
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["mode"] == "plan"
    assert document["changes_pending"] is True
    # the example fleet's plan holds every kind the schema names but cleanup (a leftover
    # temporary file, which a fresh share does not have)
    kinds = {i["kind"] for t in document["tenants"] for i in t["items"]}
    assert kinds == {"secret", "file", "compute", "access"}
    # update: the seeded instances have no idle shutdown, which the example's compute policy sets
    assert {i["action"] for t in document["tenants"] for i in t["items"]} == {
        "create",
        "report",
        "update",
    }
    assert any("policy" in i for t in document["tenants"] for i in t["items"])


def test_apply_and_verify_json_validate_against_the_same_schema(
    fleet: Path, emu: Emulator, validator: Draft202012Validator
) -> None:
    applied = _run_json("apply", fleet, emu)
    assert _errors(validator, applied) == []
    assert applied["changes_pending"] is None
    assert all(t["verified"] is True and t["applied"] > 0 for t in applied["tenants"])
    verified = _run_json("verify", fleet, emu)
    assert _errors(validator, verified) == []
    assert verified["mode"] == "verify"


def test_the_schema_names_exactly_the_plans_vocabulary() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    item = schema["$defs"]["item"]["properties"]
    assert item["kind"]["enum"] == [str(k) for k in Kind]
    assert item["action"]["enum"] == [str(a) for a in Action]
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def _document() -> dict[str, Any]:
    """A plan of two tenants, one failed, built from the plan's own types."""
    ok = TenantResult(
        TenantPlan(
            "contoso",
            items=(
                Change(Kind.SECRET, "kv-contoso-nb/TIProviders-OTX-Args-AuthKey", Action.UPDATE),
                Change(Kind.CLEANUP, "Users/alice/.msticpyconfig.yaml.tmp", Action.DELETE, "left"),
            ),
            notes=("file share access: Shared Key (storage account key)",),
            resources={
                "key_vault": "kv-contoso-nb",
                "storage_account": "st",
                "file_share": "share",
                "file_share_auth": "Shared Key (storage account key)",
            },
        )
    )
    failed = TenantResult.failed("fabrikam", "authentication failed for fabrikam: sign in")
    return as_document("plan", [ok, failed])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split("/")

    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[keys[-1]] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        del document[key]

    return change


DRIFTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "no schema_version": _drop("schema_version"),
    "another schema_version": _set("schema_version", 2),
    "an undocumented top-level key": _set("elapsed", 1.5),
    "an unknown mode": _set("mode", "destroy"),
    "changes_pending null in a plan": _set("changes_pending", None),
    "an unknown action": _set("tenants/0/items/0/action", "replace"),
    "an unknown kind": _set("tenants/0/items/0/kind", "certificate"),
    "an undocumented item key": _set("tenants/0/items/0/value", "hunter2"),
    "an undocumented resource": _set("tenants/0/resources/region", "westeurope"),
    "a negative count": _set("totals/create", -1),
    "an undocumented total": _set("totals/report", 0),
}


def test_a_document_built_from_the_plan_types_is_valid(validator: Draft202012Validator) -> None:
    assert _errors(validator, _document()) == []


@pytest.mark.parametrize("drift", list(DRIFTS))
def test_the_schema_refuses_a_drifted_document(validator: Draft202012Validator, drift: str) -> None:
    document = copy.deepcopy(_document())
    DRIFTS[drift](document)
    assert _errors(validator, document) != []


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def test_every_key_of_the_schema_is_described_on_the_page() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    page = PAGE.read_text(encoding="utf-8")
    names = set(_property_names(schema))
    assert {"schema_version", "tenants", "items", "file_share_auth"} <= names
    assert sorted(n for n in names if f"`{n}`" not in page) == []
