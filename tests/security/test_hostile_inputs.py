"""Hostile input: every case in hostile/ fails with one clear line, or renders literally.

Each case is `hostile/NAME.yaml` (an inventory, or a small marker for inputs generated at run
time) and `hostile/NAME.expect`:

    command: validate | validate --check-secrets | render | plan
    reason: <a substring of the one-line error the command must print>
    outcome: literal                       (instead of reason: the input must render safely)
    literal: <inventory path> = <rendered file>:<dotted path>   (repeatable, with outcome)
    setup: <step>                          (repeatable; see `_setup`)
    env: NAME=value                        (repeatable)

A case runs `invoke COMMAND -i inv/inventory.yaml` in a folder of its own, as a subprocess, with
HOME, the working directory, the output folder and the local-emulator folder inside that folder.
A rejected case must exit 1, print no traceback and nothing on stdout, print every problem as one
`error: ...` line without control characters, and write nothing anywhere: the case folder's tree
(names, types, sizes, modes, mtimes) is the same before and after, and `render -o` never creates
its output folder.

Free text is rejected only for control characters (ANSI escapes, line breaks, NUL: they would act
on the terminal or notebook that shows them) and length; Jinja, YAML, JSON and shell syntax in any
free-text field must come out of the rendered files, parsed back, as exactly the literal that
went in. Names that Azure constrains (Log Analytics workspace names) follow Azure's rules.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO, run_invoke

from provision.render import default_templates_dir

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(p.stem for p in HOSTILE.glob("*.expect"))
VT_VALUE = "HOSTILE-VT-VALUE-" + uuid.uuid4().hex
OUTSIDE_VALUE = "OUTSIDE-SECRET-" + uuid.uuid4().hex
TIMEOUT_S = 60


@dataclass
class Expect:
    command: str
    reason: str | None = None
    literal: list[tuple[str, str]] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def parse_expect(name: str) -> Expect:
    lines = (HOSTILE / f"{name}.expect").read_text(encoding="utf-8").splitlines()
    exp = Expect(command="validate")
    for line in lines:
        if not line.strip():
            continue
        key, _, value = line.partition(": ")
        if key == "command":
            exp.command = value
        elif key == "reason":
            exp.reason = value
        elif key == "outcome":
            assert value == "literal", line
        elif key == "literal":
            left, _, right = value.partition(" = ")
            exp.literal.append((left, right))
        elif key == "setup":
            exp.setup.append(value)
        elif key == "env":
            env_name, _, env_value = value.partition("=")
            exp.env[env_name] = env_value
        else:
            raise AssertionError(f"{name}.expect: unknown line {line!r}")
    assert (exp.reason is None) != (not exp.literal), f"{name}: reason xor literal checks"
    return exp


@dataclass
class Case:
    name: str
    expect: Expect
    root: Path

    @property
    def inv_dir(self) -> Path:
        return self.root / "inv"

    @property
    def inventory(self) -> Path:
        return self.inv_dir / "inventory.yaml"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def templates(self) -> Path:
        return self.root / "tpl"

    @property
    def outside(self) -> Path:
        return self.root / "outside"


def _path(case: Case, rel: str) -> Path:
    if rel.startswith("tpl/") or rel == "tpl":
        return case.root / rel
    return case.inv_dir / rel


def _setup(case: Case, step: str) -> None:
    kind, _, arg = step.partition(" ")
    arg = arg.replace("{outside}", str(case.outside))
    if kind == "templates":
        shutil.copytree(default_templates_dir().resolve(), case.templates)
    elif kind == "symlink":
        link, _, target = arg.partition(" -> ")
        p = _path(case, link)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists() or p.is_symlink():
            p.unlink()
        p.symlink_to(target)
    elif kind == "template":
        name, _, rest = arg.partition(" ")
        how, _, text = rest.partition(" ")
        assert how == "prepend", step
        t = case.templates / name
        t.write_text(text + "\n" + t.read_text())
    elif kind == "file":
        rel, _, size = arg.partition(" ")
        _path(case, rel).parent.mkdir(parents=True, exist_ok=True)
        _path(case, rel).write_bytes(b"A" * int(size))
    elif kind == "bytes":
        rel, _, hexdata = arg.partition(" ")
        _path(case, rel).parent.mkdir(parents=True, exist_ok=True)
        _path(case, rel).write_bytes(bytes.fromhex(hexdata))
    elif kind == "dir":
        _path(case, arg).mkdir(parents=True)
    elif kind == "fifo":
        _path(case, arg).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(_path(case, arg))
    elif kind == "huge-inventory":
        line = "# " + "x" * 1021 + "\n"
        case.inventory.write_text(line * (int(arg) // len(line) + 1))
    elif kind == "many-nodes":
        case.inventory.write_text("version: 1\ntenants: []\nx: [" + "1," * int(arg) + "]\n")
    elif kind == "endpoints":
        (case.root / "endpoints.json").write_text(
            json.dumps(
                {
                    "arm": "https://127.0.0.1:9/_arm",
                    "keyvault": "https://127.0.0.1:9/_kv/{vault}",
                    "files": "https://127.0.0.1:9/{account}",
                    "token": "never-used",
                }
            )
        )
    elif kind == "inventory-fifo":
        case.inventory.unlink()
        os.mkfifo(case.inventory)
    elif kind == "inventory-symlink":
        case.inventory.unlink()
        case.inventory.symlink_to(arg)
    elif kind == "inventory-directory":
        case.inventory.unlink()
        case.inventory.mkdir()
    elif kind == "output-file":
        case.out.write_text("not a folder\n")
    else:
        raise AssertionError(f"{case.name}: unknown setup step {step!r}")


def prepare(root: Path, name: str) -> Case:
    case = Case(name, parse_expect(name), root / name)
    for d in (case.inv_dir, case.outside, case.root / "home", case.root / "cwd"):
        d.mkdir(parents=True)
    shutil.copyfile(HOSTILE / f"{name}.yaml", case.inventory)
    (case.outside / "secret.txt").write_text(OUTSIDE_VALUE + "\n")
    shutil.copyfile(default_templates_dir() / "config.json.j2", case.outside / "config.json.j2")
    for step in case.expect.setup:
        _setup(case, step)
    return case


def command(case: Case) -> list[str]:
    words = case.expect.command.split()
    args = [words[0], "-i", str(case.inventory), *words[1:]]
    if words[0] == "render":
        args += ["-o", str(case.out)]
    if words[0] == "plan":
        args += ["--endpoints", str(case.root / "endpoints.json")]
    if case.templates.exists():
        args += ["--templates", str(case.templates)]
    return args


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under root (symlinks not followed): mode, size, mtime."""
    out: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Outcome:
    case: Case
    code: int | None
    stdout: str
    stderr: str
    before: dict[str, tuple[int, int, int]]
    after: dict[str, tuple[int, int, int]]


def run_case(root: Path, name: str) -> Outcome:
    case = prepare(root, name)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOSTILE_", "MSTICPY_PROVISION", "GITHUB_"))
    }
    env.update(
        HOSTILE_VT_KEY=VT_VALUE,
        HOME=str(case.root / "home"),
        MSTICPY_PROVISION_LOCAL_DIR=str(case.root / "local"),
        **case.expect.env,
    )
    before = snapshot(case.root)
    try:
        proc = run_invoke(
            "--search-root",
            str(REPO),
            *command(case),
            cwd=case.root / "cwd",
            env=env,
            timeout=TIMEOUT_S,
            inherit_env=False,
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:  # e.g. blocked reading a FIFO
        code, stdout, stderr = None, str(exc.stdout or ""), f"timed out: {exc}"
    return Outcome(case, code, stdout, stderr, before, snapshot(case.root))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case, run concurrently (each one is a subprocess in a folder of its own)."""
    root = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_case, root, name) for name in CASES}
        return {name: f.result() for name, f in futures.items()}


def test_corpus_is_large_enough() -> None:
    rejected = [n for n in CASES if parse_expect(n).reason is not None]
    literal = [n for n in CASES if parse_expect(n).literal]
    assert len(rejected) >= 40
    assert len(literal) >= 3
    assert all((HOSTILE / f"{n}.yaml").exists() for n in CASES)
    # Kept small: big inputs are generated at run time from a marker file.
    assert all((HOSTILE / f"{n}.yaml").stat().st_size < 64 * 1024 for n in CASES)


def _control_chars(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if not ch.isprintable() and ch != "\n"})


@pytest.mark.parametrize("name", [n for n in CASES if parse_expect(n).reason is not None])
def test_hostile_input_is_rejected_with_one_line_and_writes_nothing(
    outcomes: dict[str, Outcome], name: str
) -> None:
    o = outcomes[name]
    reason = o.case.expect.reason
    assert reason is not None
    both = o.stdout + o.stderr
    assert o.code == 1, f"exit {o.code}\n{both}"
    assert "Traceback" not in both and 'File "' not in both, both
    assert o.stdout == "", o.stdout
    lines = o.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), o.stderr
    assert any(reason in line for line in lines), f"expected {reason!r} in:\n{o.stderr}"
    assert _control_chars(o.stderr) == [], o.stderr
    assert VT_VALUE not in both and OUTSIDE_VALUE not in both
    assert o.after == o.before, "the command changed files in its folder"
    if o.case.expect.command.startswith("render") and "output-file" not in o.case.expect.setup:
        assert not o.case.out.exists(), "render created its output folder"


def _at(data: Any, dotted: str) -> Any:
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


@pytest.mark.parametrize("name", [n for n in CASES if parse_expect(n).literal])
def test_injection_in_free_text_renders_as_the_same_literal(
    outcomes: dict[str, Outcome], name: str
) -> None:
    o = outcomes[name]
    assert o.code == 0, o.stdout + o.stderr
    source = yaml.safe_load(o.case.inventory.read_text(encoding="utf-8"))
    tenant_dir = o.case.out / source["tenants"][0]["name"]
    for inv_path, rendered in o.case.expect.literal:
        file_name, _, dotted = rendered.partition(":")
        text = (tenant_dir / file_name).read_text(encoding="utf-8")
        data = json.loads(text) if file_name.endswith(".json") else yaml.safe_load(text)
        want = _at(source, inv_path)
        assert _at(data, dotted) == want, f"{rendered} does not carry {inv_path} literally"
    # Nothing was executed while rendering (the shell payloads touch PWNED in the cwd).
    assert not [p for p in o.case.root.rglob("PWNED*")]
    for script in o.case.out.rglob("msticpy-provision-startup.sh"):
        assert stat.S_IMODE(script.stat().st_mode) == 0o600
        check = subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False)
        assert check.returncode == 0, check.stderr
