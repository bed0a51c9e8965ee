"""Admin templates (`--templates DIR`) run in Jinja's immutable sandbox, confined to DIR.

A template that tries to read files, import modules, reach Python internals (`__class__`,
`__globals__`, `__subclasses__`, `mro`, `cycler.__init__.__globals__`,
`self._TemplateReference__context`, format-string attribute access), mutate its context, or just
blows up, makes `invoke render` (and validate) fail with one line per tenant naming the template
file, no traceback, and nothing written: the output folder is not created.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REPO, run_invoke

from provision.devtools.fleet import write_fleet
from provision.render import default_templates_dir

OUTSIDE = "OUTSIDE-TEMPLATE-READ-9d1f0c"

# (template file, body prepended to it, substring of the error)
HOSTILE: dict[str, tuple[str, str, str]] = {
    "include_etc_passwd": ("config.json.j2", "{% include '/etc/passwd' %}", "/etc/passwd"),
    "include_dotdot": ("config.json.j2", "{% include '../outside.txt' %}", "../outside.txt"),
    "extends_absolute": ("config.json.j2", "{% extends '/etc/hostname' %}", "/etc/hostname"),
    "import_dotdot": ("config.json.j2", "{% import '../outside.txt' as o %}", "outside.txt"),
    "from_import_os": ("config.json.j2", "{% from 'os' import system %}", "os"),
    "include_symlink_out": (
        "msticpyconfig.yaml.j2",
        "# {% include 'link.j2' %}",
        "leads outside the templates folder",
    ),
    "str_class_mro": ("config.json.j2", "{{ ''.__class__.__mro__ }}", "__class__"),
    "subclasses": ("config.json.j2", "{{ [].__class__.__base__.__subclasses__() }}", "__class__"),
    "mro_call": ("config.json.j2", "{{ config.__class__.mro() }}", "__class__"),
    "lipsum_globals_os": (
        "config.json.j2",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "__globals__",
    ),
    "cycler_init_globals": (
        "config.json.j2",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "__init__",
    ),
    "joiner_init_globals": ("config.json.j2", "{{ joiner.__init__.__globals__ }}", "__init__"),
    "namespace_init": ("config.json.j2", "{{ namespace.__init__.__globals__ }}", "__init__"),
    "template_reference_context": (
        "config.json.j2",
        "{{ self._TemplateReference__context.cycler }}",
        "_TemplateReference__context",
    ),
    "self_dict": ("config.json.j2", "{{ self.__dict__ }}", "__dict__"),
    "format_string_attribute": (
        "config.json.j2",
        "{{ '{0.__class__.__mro__}'.format(config) }}",
        "__class__",
    ),
    "format_map_globals": (
        "config.json.j2",
        "{{ '{0.__globals__}'.format_map({'x': 1}) if false else "
        "'{0.__init__.__globals__}'.format(cycler) }}",
        "__init__",
    ),
    "mutate_context": (
        "config.json.j2",
        "{% set _ = config.update({'tenant_id': 'x'}) %}",
        "unsafe",
    ),
    "pop_context": ("msticpyconfig.yaml.j2", "{% set _ = cfg.pop('KeyVault') %}", "unsafe"),
    "undefined_module": ("config.json.j2", "{{ os.system('id') }}", "'os' is undefined"),
    "getattr_builtin": (
        "config.json.j2",
        "{{ getattr(config, '__class__') }}",
        "'getattr' is undefined",
    ),
    "range_too_big": ("config.json.j2", "{{ range(10**7) | list }}", "OverflowError"),
    "division_by_zero": ("config.json.j2", "{{ 1/0 }}", "ZeroDivisionError"),
    "endless_recursion": (
        "config.json.j2",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "template",
    ),
    "syntax_error": ("startup.sh.j2", "{% for %}", "template syntax error"),
    "changes_values": (
        "msticpyconfig.yaml.j2",
        "Extra: {{ tenant | yaml }}",
        "does not carry the intended data",
    ),
}


@dataclass
class Run:
    code: int | None
    stdout: str
    stderr: str
    out: Path
    template: Path
    root: Path


def _run(root: Path, name: str) -> Run:
    template, body, _ = HOSTILE[name]
    case = root / name
    fleet = write_fleet(case / "inv", 1, users=1)
    tpl = case / "tpl"
    shutil.copytree(default_templates_dir().resolve(), tpl)
    (case / "outside.txt").write_text(OUTSIDE + "\n")
    (tpl / "link.j2").symlink_to(case / "outside.txt")
    (tpl / template).write_text(body + "\n" + (tpl / template).read_text())
    (case / "cwd").mkdir()
    out = case / "out"
    proc = run_invoke(
        "--search-root",
        str(REPO),
        "render",
        "-i",
        str(fleet.path),
        "-o",
        str(out),
        "--templates",
        str(tpl),
        cwd=case / "cwd",
        env={"HOME": str(case)},
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, out, tpl / template, case)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("templates")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_run, root, name) for name in HOSTILE}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_fails_with_one_line_naming_it_and_writes_nothing(
    runs: dict[str, Run], name: str
) -> None:
    r = runs[name]
    expected = HOSTILE[name][2]
    both = r.stdout + r.stderr
    assert r.code == 1, both
    assert "Traceback" not in both and 'File "' not in both, both
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines and all(ln.startswith("error: ") for ln in lines), r.stderr
    assert all(str(r.template) in ln for ln in lines), f"lines must name {r.template}"
    assert any(expected in ln for ln in lines), f"expected {expected!r} in:\n{r.stderr}"
    assert OUTSIDE not in both and "root:x:0:0" not in both and "uid=" not in both
    assert not r.out.exists(), "render created its output folder"
    assert not list(r.root.rglob("PWNED*"))


def test_validate_runs_admin_templates_in_the_same_sandbox(tmp_path: Path) -> None:
    """validate renders with --templates too, and fails the same way."""
    run = _run(tmp_path, "cycler_init_globals")
    fleet = run.root / "inv" / "inventory.yaml"
    proc = run_invoke(
        "--search-root",
        str(REPO),
        "validate",
        "-i",
        str(fleet),
        "--templates",
        str(run.template.parent),
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "__init__" in proc.stderr and str(run.template) in proc.stderr
