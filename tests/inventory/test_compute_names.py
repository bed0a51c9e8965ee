"""Compute instance names follow Azure ML's rules, and the default cannot collide across tenants.

Source of the rules: Microsoft Learn, "Create a compute instance" (MicrosoftDocs/azure-ai-docs,
articles/machine-learning/how-to-create-compute-instance.md, field "Compute name"): 3 to 24
characters; letters, digits and '-'; must start with a letter; "unique across all existing
computes within an Azure region"; "if - character is used, then it needs to be followed by at
least one letter later in the name".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import EXAMPLE

from provision.errors import UserInputError
from provision.inventory.compute_names import compute_name_problems, default_compute_name
from provision.inventory.load import load_inventory

T1 = "72f988bf-86f1-41af-91ab-2d7cd011db47"
T2 = "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
SUB = "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f"


@pytest.mark.parametrize("name", ["abc", "alice-ci", "A1-b2", "carol-hunting", "x" * 24, "ab-c1"])
def test_names_azure_accepts_are_accepted(name: str) -> None:
    assert compute_name_problems(name) == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3-24 characters"),
        ("x" * 25, "3-24 characters"),
        ("1abc", "must start with a letter"),
        ("-abc", "must start with a letter"),
        ("alice_ci", "only letters, digits and '-'"),
        ("alice.ci", "only letters, digits and '-'"),
        ("alice-1", "followed by a letter"),  # Azure's own example of a refused name: cpu-cluster-1
        ("alice-", "followed by a letter"),
        ("ålice", "must start with a letter"),
    ],
)
def test_names_azure_refuses_are_refused(name: str, rule: str) -> None:
    assert any(rule in p for p in compute_name_problems(name))


ALIASES = ["alice", "alice.smith", "Bob_O'Neil", "9lives", "x" * 64, "a", "ann-1", "é"]


@pytest.mark.parametrize("alias", ALIASES)
def test_default_is_a_valid_name_and_stable(alias: str) -> None:
    name = default_compute_name(alias, T1, SUB, "rg", "mlw")
    assert compute_name_problems(name) == []
    assert default_compute_name(alias, T1, SUB, "rg", "mlw") == name


def test_default_differs_per_tenant_and_workspace_for_one_analyst() -> None:
    names = {
        default_compute_name("alice", T1, SUB, "rg", "mlw"),
        default_compute_name("alice", T2, SUB, "rg", "mlw"),
        default_compute_name("alice", T1, SUB, "rg", "mlw-other"),
        default_compute_name("alice", T1, SUB, "rg-other", "mlw"),
    }
    assert len(names) == 4
    assert all(n.startswith("alice-") for n in names)
    # Azure compares resource names case-insensitively: so does the default.
    assert default_compute_name("alice", T1.upper(), SUB, "RG", "MLW") == default_compute_name(
        "alice", T1, SUB, "rg", "mlw"
    )


def test_example_defaults_are_tenant_specific() -> None:
    inv = load_inventory(EXAMPLE)
    names = [u.compute_name for t in inv.tenants for u in t.user_list]
    assert len(set(names)) == len(names)
    assert all(compute_name_problems(n) == [] for n in names)


def _two_tenants(tmp_path: Path, second_users: str) -> Path:
    text = EXAMPLE.read_text()
    out = tmp_path / "inventory.yaml"
    # fabrikam's users, replaced: the example's last `users:` block
    head, _, _ = text.rpartition("    users:")
    out.write_text(head + "    users:\n" + second_users, encoding="utf-8")
    (tmp_path / "secrets").symlink_to(EXAMPLE.parent / "secrets")
    return out


def test_an_invalid_compute_name_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    inv = _two_tenants(tmp_path, "      - {alias: dave, compute: dave-1}\n")
    with pytest.raises(UserInputError) as err:
        load_inventory(inv)
    lines = err.value.lines()
    assert len(lines) == 1, lines
    line_no = inv.read_text().splitlines().index("      - {alias: dave, compute: dave-1}") + 1
    assert lines[0].startswith(f"{inv}:{line_no}: ")
    assert "users[0].compute" in lines[0] and "followed by a letter" in lines[0]


def test_one_compute_name_in_two_tenants_is_refused_naming_both_lines(tmp_path: Path) -> None:
    inv = _two_tenants(tmp_path, "      - {alias: dave, compute: carol-hunting}\n")
    with pytest.raises(UserInputError) as err:
        load_inventory(inv)
    lines = err.value.lines()
    assert len(lines) == 1, lines
    text = inv.read_text().splitlines()
    carol = next(i for i, s in enumerate(text) if "compute: carol-hunting" in s) + 1
    dave = text.index("      - {alias: dave, compute: carol-hunting}") + 1
    assert lines[0].startswith(f"{inv}:{dave}: tenants[1].users[0]: ")
    assert f"(line {carol})" in lines[0] and "unique per Azure region" in lines[0]
