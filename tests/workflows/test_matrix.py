"""`invoke matrix`: the tenants a workflow run plans or applies, as JSON for fromJSON.

The --changed-since tests build a real git repository in tmp_path (the example inventory, its
secret files and the templates), commit changes to it the way a pull request would, and ask
which tenants changed since the commit before.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from support import EXAMPLE, REPO, run_invoke

from provision.errors import UserInputError
from provision.matrix import MAX_MATRIX_JOBS, chunk_matrix, matrix_command, tenant_matrix

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
# Isolated from the machine's git configuration, so the tests behave alike everywhere.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


@dataclass
class Result:
    code: int
    matrix: dict[str, Any] | None
    stdout: str
    stderr: str

    @property
    def tenants(self) -> list[str]:
        assert self.matrix is not None, self.stderr
        return [job["tenant"] for job in self.matrix["include"]]

    @property
    def notes(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("note: ")]


def invoke_matrix(inventory: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    proc = run_invoke(
        "matrix", "-i", str(inventory), *args, env={**GIT_ENV, **(env or {})}, timeout=60
    )
    lines = proc.stdout.splitlines()
    matrix = json.loads(lines[0]) if proc.returncode == 0 else None
    if proc.returncode == 0:
        assert len(lines) == 1, f"stdout must be one line of JSON: {proc.stdout!r}"
    return Result(proc.returncode, matrix, proc.stdout, proc.stderr)


class FleetRepo:
    """A git repository holding an inventory, its secret files and the templates."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inventory = root / "inventory.yaml"

    def git(self, *args: str) -> str:
        assert GIT is not None
        proc = subprocess.run(
            [GIT, "-c", "user.email=ci@example.invalid", "-c", "user.name=CI", *args],
            cwd=self.root,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def edit_inventory(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the inventory through YAML (which also reformats the whole file)."""
        doc = yaml.safe_load(self.inventory.read_text(encoding="utf-8"))
        change(doc)
        self.inventory.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def tenant(self, doc: dict[str, Any], name: str) -> dict[str, Any]:
        return next(t for t in doc["tenants"] if t["name"] == name)

    def matrix(self, *args: str) -> Result:
        return invoke_matrix(self.inventory, *args)


@pytest.fixture
def fleet(tmp_path: Path) -> FleetRepo:
    repo = FleetRepo(tmp_path / "fleet")
    repo.root.mkdir()
    repo.git("init", "-q", "-b", "main")
    shutil.copy(EXAMPLE, repo.inventory)
    shutil.copytree(EXAMPLE.parent / "secrets", repo.root / "secrets")
    shutil.copytree(REPO / "templates", repo.root / "templates")
    repo.commit("fleet")
    return repo


# --- plain and chunked matrices -------------------------------------------------------------------


def test_matrix_lists_every_tenant_as_one_line_of_json() -> None:
    result = invoke_matrix(EXAMPLE)
    assert result.code == 0
    assert result.stdout == '{"include":[{"tenant":"contoso"},{"tenant":"fabrikam"}]}\n'
    assert result.stderr == ""


def test_chunks_group_tenants_with_ready_arguments() -> None:
    one = invoke_matrix(EXAMPLE, "--chunks", "1")
    assert one.matrix == {
        "include": [
            {"chunk": "1-of-1", "tenants": "contoso fabrikam", "args": "-t contoso -t fabrikam"}
        ]
    }
    # More chunks than tenants: one job per tenant, never an empty job.
    many = invoke_matrix(EXAMPLE, "--chunks", "5")
    assert many.matrix == {
        "include": [
            {"chunk": "1-of-2", "tenants": "contoso", "args": "-t contoso"},
            {"chunk": "2-of-2", "tenants": "fabrikam", "args": "-t fabrikam"},
        ]
    }


@pytest.mark.parametrize("chunks", ["-1", str(MAX_MATRIX_JOBS + 1)])
def test_chunks_out_of_range_is_a_one_line_error(chunks: str) -> None:
    result = invoke_matrix(EXAMPLE, "--chunks", chunks)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: --chunks {chunks}: expected 0")
    assert "Traceback" not in result.stderr


slugs = st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True), unique=True)


@given(names=slugs, chunks=st.integers(min_value=1, max_value=MAX_MATRIX_JOBS))
def test_chunks_hold_every_tenant_exactly_once_in_at_most_n_jobs(
    names: list[str], chunks: int
) -> None:
    include = chunk_matrix(names, chunks)["include"]
    assert len(include) == min(chunks, len(names))
    grouped = [job["tenants"].split() for job in include]
    assert [n for group in grouped for n in group] == names  # each once, inventory order
    assert all(group for group in grouped)
    if grouped:
        assert max(map(len, grouped)) - min(map(len, grouped)) <= 1
    for index, (job, group) in enumerate(zip(include, grouped, strict=True), start=1):
        assert job["chunk"] == f"{index}-of-{len(include)}"
        assert job["args"].split() == [w for n in group for w in ("-t", n)]


def test_names_that_are_not_slugs_never_reach_a_shell() -> None:
    for bad in ("a b", "x;rm", "$(id)", "-t", "Upper"):
        with pytest.raises(ValueError, match="not a slug"):
            tenant_matrix([bad])
        with pytest.raises(ValueError, match="not a slug"):
            chunk_matrix(["ok", bad], 1)


def test_too_many_tenants_for_one_matrix_asks_for_chunks(tmp_path: Path) -> None:
    tenants = [
        {
            "name": f"t{i}",
            "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "subscription_id": "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f",
            "resource_group": "rg-soc",
            "ml_workspace": f"mlw-t{i}",
            "key_vault": f"kv-t{i}",
            "sentinel": [
                {
                    "name": "Main",
                    "workspace_id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
                    "workspace_name": "law-main",
                    "default": True,
                }
            ],
            "users": ["alice"],
        }
        for i in range(MAX_MATRIX_JOBS + 1)
    ]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"version": 1, "tenants": tenants}), encoding="utf-8")
    too_many = invoke_matrix(inventory)
    assert too_many.code == 1
    assert "257 tenants exceed GitHub Actions' limit of 256 jobs per matrix" in too_many.stderr
    assert "--chunks" in too_many.stderr
    chunked = invoke_matrix(inventory, "--chunks", "4")
    assert chunked.matrix is not None
    assert [j["chunk"] for j in chunked.matrix["include"]] == [f"{i}-of-4" for i in range(1, 5)]


def test_an_invalid_inventory_is_reported_not_listed(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("version: 1\ntenants: []\n", encoding="utf-8")
    result = invoke_matrix(inventory)
    assert result.code == 1
    assert result.stdout == ""
    assert "tenants must be a non-empty list" in result.stderr
    assert "Traceback" not in result.stderr


# --- --changed-since ------------------------------------------------------------------------------


@needs_git
def test_nothing_changed_selects_no_tenant(fleet: FleetRepo) -> None:
    result = fleet.matrix("--changed-since", "HEAD")
    assert result.code == 0
    assert result.stdout == '{"include":[]}\n'
    assert result.notes == [f"note: no tenant changed since HEAD ({_head(fleet)[:12]})"]
    chunked = fleet.matrix("--changed-since", "HEAD", "--chunks", "3")
    assert chunked.stdout == '{"include":[]}\n'


@needs_git
def test_reformatting_the_inventory_changes_no_tenant(fleet: FleetRepo) -> None:
    fleet.edit_inventory(lambda doc: None)  # comments go, order and spacing change
    fleet.commit("reformat")
    assert fleet.matrix("--changed-since", "HEAD~1").tenants == []


@needs_git
def test_a_changed_field_selects_only_that_tenant(fleet: FleetRepo) -> None:
    fleet.edit_inventory(lambda doc: fleet.tenant(doc, "fabrikam")["users"].append("frank"))
    fleet.commit("fabrikam: frank joins")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["fabrikam"]
    assert "fabrikam (entry changed)" in result.notes[0]


@needs_git
def test_a_changed_default_selects_every_tenant_that_inherits_it(fleet: FleetRepo) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["defaults"]["kernel_mode"] = "nbuser"
        fleet.tenant(doc, "contoso")["kernel_mode"] = "kernel"  # contoso keeps its own value

    fleet.edit_inventory(change)
    fleet.commit("legacy kernel mode by default")
    assert fleet.matrix("--changed-since", "HEAD~1").tenants == ["fabrikam"]


@needs_git
def test_a_changed_secret_reference_selects_only_that_tenant(fleet: FleetRepo) -> None:
    def change(doc: dict[str, Any]) -> None:
        fleet.tenant(doc, "contoso")["ti_providers"]["OTX"]["args"]["auth_key"] = "env:OTX_KEY"

    fleet.edit_inventory(change)
    fleet.commit("contoso: OTX key from the environment")
    assert fleet.matrix("--changed-since", "HEAD~1").tenants == ["contoso"]


@needs_git
def test_a_changed_secret_file_selects_only_the_tenant_that_reads_it(fleet: FleetRepo) -> None:
    (fleet.root / "secrets" / "fabrikam-ipstack.txt").write_text("rotated\n", encoding="utf-8")
    fleet.commit("rotate fabrikam's IPStack key")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["fabrikam"]
    assert "fabrikam (secret file changed: secrets/fabrikam-ipstack.txt)" in result.notes[0]


@needs_git
def test_an_uncommitted_secret_file_change_counts_too(fleet: FleetRepo) -> None:
    (fleet.root / "secrets" / "contoso-otx.txt").write_text("rotated\n", encoding="utf-8")
    assert fleet.matrix("--changed-since", "HEAD").tenants == ["contoso"]


@needs_git
def test_an_unrelated_file_selects_no_tenant(fleet: FleetRepo) -> None:
    (fleet.root / "README.md").write_text("# fleet\n", encoding="utf-8")
    (fleet.root / "secrets" / "unused.txt").write_text("x\n", encoding="utf-8")
    fleet.commit("docs")
    assert fleet.matrix("--changed-since", "HEAD~1").tenants == []


@needs_git
def test_a_changed_template_selects_every_tenant(fleet: FleetRepo) -> None:
    template = fleet.root / "templates" / "config.json.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    fleet.commit("template tweak")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["contoso", "fabrikam"]
    assert result.notes[0].startswith("note: every tenant is selected: templates changed since")
    assert "templates/config.json.j2" in result.notes[0]


@needs_git
def test_a_new_tenant_is_the_only_one_selected(fleet: FleetRepo) -> None:
    def add(doc: dict[str, Any]) -> None:
        new = json.loads(json.dumps(fleet.tenant(doc, "fabrikam")))
        new.update(name="northwind", key_vault="kv-northwind-nb", ml_workspace="mlw-northwind")
        doc["tenants"].append(new)

    fleet.edit_inventory(add)
    fleet.commit("onboard northwind")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["northwind"]
    assert "northwind (new)" in result.notes[0]


@needs_git
def test_a_removed_tenant_selects_none_and_says_so(fleet: FleetRepo) -> None:
    fleet.edit_inventory(
        lambda doc: doc.update(tenants=[t for t in doc["tenants"] if t["name"] != "fabrikam"])
    )
    fleet.commit("offboard fabrikam")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.code == 0
    assert result.stdout == '{"include":[]}\n'
    assert any(
        "tenant 'fabrikam' was removed from the inventory" in n and "by hand" in n
        for n in result.notes
    )


@needs_git
def test_an_inventory_new_since_the_ref_selects_every_tenant(fleet: FleetRepo) -> None:
    fleet.git("mv", "inventory.yaml", "fleet.yaml")
    fleet.commit("rename")
    result = invoke_matrix(fleet.root / "fleet.yaml", "--changed-since", "HEAD~1")
    assert result.tenants == ["contoso", "fabrikam"]
    assert "fleet.yaml did not exist at HEAD~1" in result.notes[0]


@needs_git
def test_an_invalid_inventory_at_the_ref_selects_every_tenant(fleet: FleetRepo) -> None:
    good = fleet.inventory.read_text(encoding="utf-8")
    fleet.inventory.write_text(good.replace("version: 1", "version: 2"), encoding="utf-8")
    fleet.commit("broken")
    fleet.inventory.write_text(good, encoding="utf-8")
    fleet.commit("fixed")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["contoso", "fabrikam"]
    assert "does not validate" in result.notes[0]


@needs_git
def test_an_inventory_in_a_subfolder_compares_its_own_history(fleet: FleetRepo) -> None:
    (fleet.root / "fleet").mkdir()
    fleet.git("mv", "inventory.yaml", "secrets", "fleet/")
    fleet.commit("move into fleet/")
    inventory = fleet.root / "fleet" / "inventory.yaml"
    (fleet.root / "fleet" / "secrets" / "contoso-maxmind.txt").write_text("new\n", "utf-8")
    fleet.commit("rotate")
    result = invoke_matrix(inventory, "--changed-since", "HEAD~1")
    assert result.tenants == ["contoso"]
    assert "fleet/secrets/contoso-maxmind.txt" in result.notes[0]


@needs_git
def test_changed_since_combines_with_chunks(fleet: FleetRepo) -> None:
    (fleet.root / "secrets" / "contoso-otx.txt").write_text("rotated\n", encoding="utf-8")
    fleet.commit("rotate")
    result = fleet.matrix("--changed-since", "HEAD~1", "--chunks", "2")
    assert result.matrix == {
        "include": [{"chunk": "1-of-1", "tenants": "contoso", "args": "-t contoso"}]
    }


@needs_git
@pytest.mark.parametrize("ref", ["no-such-ref", "-p", "0" * 40])
def test_an_unknown_ref_is_a_one_line_error(fleet: FleetRepo, ref: str) -> None:
    result = fleet.matrix(f"--changed-since={ref}")
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(rf"error: --changed-since '{re.escape(ref)}': ", lines[0])
    assert "Traceback" not in result.stderr


@needs_git
def test_an_inventory_outside_git_is_a_one_line_error(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    shutil.copy(EXAMPLE, inventory)
    shutil.copytree(EXAMPLE.parent / "secrets", tmp_path / "secrets")
    # Git must not look above tmp_path, whatever folder holds it.
    ceiling = {"GIT_CEILING_DIRECTORIES": str(tmp_path)}
    result = invoke_matrix(inventory, "--changed-since", "HEAD", env=ceiling)
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {inventory}: --changed-since needs the inventory in a git")
    assert "Traceback" not in result.stderr


def test_a_selection_of_tenants_keeps_inventory_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert matrix_command(str(EXAMPLE), tenants=["fabrikam", "contoso"]) == 0
    assert capsys.readouterr().out == '{"include":[{"tenant":"contoso"},{"tenant":"fabrikam"}]}\n'
    with pytest.raises(UserInputError, match=r"no tenant named 'fabrikan' .*'fabrikam'"):
        matrix_command(str(EXAMPLE), tenants=["fabrikan"])


@needs_git
def test_a_change_in_the_templates_folder_given_selects_every_tenant(
    fleet: FleetRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    shutil.copytree(fleet.root / "templates", fleet.root / "ours")
    fleet.commit("our own templates")
    (fleet.root / "ours" / "startup.sh.j2").write_text("# ours\n", encoding="utf-8")
    fleet.commit("change ours")
    inventory = str(fleet.inventory)
    assert matrix_command(inventory, changed_since="HEAD~1") == 0
    assert capsys.readouterr().out == '{"include":[]}\n'  # not a folder the renderer uses
    assert (
        matrix_command(inventory, changed_since="HEAD~1", templates=str(fleet.root / "ours")) == 0
    )
    out = capsys.readouterr()
    assert out.out == '{"include":[{"tenant":"contoso"},{"tenant":"fabrikam"}]}\n'
    assert "ours/startup.sh.j2" in out.err


def _head(fleet: FleetRepo) -> str:
    return fleet.git("rev-parse", "HEAD").strip()


@needs_git
def test_an_offboarded_tenant_is_selected(fleet: FleetRepo) -> None:
    def offboard(doc: dict[str, Any]) -> None:
        t = fleet.tenant(doc, "fabrikam")
        keep = ("name", "tenant_id", "subscription_id", "resource_group", "ml_workspace")
        for key in [k for k in t if k not in (*keep, "key_vault")]:
            del t[key]
        t["state"] = "absent"

    fleet.edit_inventory(offboard)
    fleet.commit("fabrikam leaves")
    result = fleet.matrix("--changed-since", "HEAD~1")
    assert result.tenants == ["fabrikam"]
    assert "fabrikam (offboarded (state: absent))" in result.notes[0]
