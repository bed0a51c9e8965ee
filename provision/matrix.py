"""GitHub Actions matrices: which tenants a workflow run should plan or apply.

`invoke matrix` prints ONE line of compact JSON on stdout, made for `fromJSON` in a workflow:

    {"include":[{"tenant":"contoso"},{"tenant":"fabrikam"}]}            one job per tenant
    {"include":[{"chunk":"1-of-2","tenants":"contoso fabrikam",
                 "args":"-t contoso -t fabrikam"}, ...]}                  --chunks N (N > 0)
    {"include":[]}                                                      nothing to do

Notes (what changed and why, removed tenants) go to stderr, so stdout stays machine-readable.
A workflow skips its tenant jobs on an empty selection by counting `include` (see
.github/workflows/onboard.yml and docs/github-actions.md).

`--changed-since REF` keeps only the tenants whose desired state may differ from REF's:
- the tenant's entry after merging `defaults` (pydantic dump), which includes the names of its
  `env:`/`file:` secret references;
- the content of a `file:` secret file it references (`git diff --name-only REF -- FILES`);
- any template (`templates/` at the repository root, next to the inventory, or the folder the
  renderer uses, when it lives in the repository): a template change concerns every tenant.
The comparison is with the working tree, which is what plan and apply read (in CI the working
tree is the checked-out commit). Changes of `env:` secret *values* cannot be seen in git: after
rotating a key in a GitHub environment, run the workflow for that tenant by hand.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provision.errors import Problem, UserInputError
from provision.inventory.load import load_inventory, load_inventory_text
from provision.inventory.model import Inventory, Tenant

# GitHub Actions: "A matrix can generate a maximum of 256 jobs per workflow run."
MAX_MATRIX_JOBS = 256
# Tenant names are slugs (provision.inventory.Slug); the matrix relies on that for `args`,
# which a workflow expands unquoted into `invoke apply ... $ARGS`.
_SHELL_SAFE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_GIT_TIMEOUT = 60.0
# Variables that would point git at another repository than the inventory's.
_GIT_ENV_OVERRIDES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX")

Matrix = dict[str, list[dict[str, str]]]


def matrix_command(
    inventory: str,
    changed_since: str | None = None,
    chunks: int = 0,
    *,
    templates: str | None = None,
    tenants: Sequence[str] = (),
) -> int:
    """Print the selected tenants as one line of matrix JSON; notes go to stderr.

    `templates` is the folder given to plan/apply with --templates (its changes concern every
    tenant); `tenants` restricts the selection to these names (unknown names are an error).
    """
    if chunks < 0 or chunks > MAX_MATRIX_JOBS:
        raise UserInputError(
            [f"--chunks {chunks}: expected 0 (one job per tenant) or 1-{MAX_MATRIX_JOBS}"]
        )
    inv = load_inventory(inventory)
    wanted = {t.name for t in inv.select(list(tenants))}  # unknown names: an error
    names = [t.name for t in inv.tenants if t.name in wanted]  # inventory order
    if changed_since is not None:
        changes = changed_tenants(inv, changed_since, templates=templates)
        for line in changes.notes():
            print(f"note: {line}", file=sys.stderr)
        selected = set(changes.changed)
        names = [n for n in names if n in selected]
    if chunks:
        doc = chunk_matrix(names, chunks)
    else:
        if len(names) > MAX_MATRIX_JOBS:
            raise UserInputError(
                [
                    Problem(
                        f"{len(names)} tenants exceed GitHub Actions' limit of "
                        f"{MAX_MATRIX_JOBS} jobs per matrix; use --chunks {MAX_MATRIX_JOBS} "
                        "or fewer",
                        file=inventory,
                    )
                ]
            )
        doc = tenant_matrix(names)
    print(json.dumps(doc, separators=(",", ":")))
    return 0


# --- matrix shapes -------------------------------------------------------------------------------


def tenant_matrix(names: Iterable[str]) -> Matrix:
    """One job per tenant: `{"include": [{"tenant": "contoso"}, ...]}`."""
    return {"include": [{"tenant": _checked(n)} for n in names]}


def chunk_matrix(names: Sequence[str], chunks: int) -> Matrix:
    """At most `chunks` jobs, each a contiguous run of tenants in inventory order.

    Sizes differ by at most one. Each entry carries `tenants` (space-separated names) and a
    ready `args` string (`-t a -t b`) for `invoke plan|apply`.
    """
    if chunks < 1:
        raise ValueError("chunks must be positive")
    checked = [_checked(n) for n in names]
    jobs = min(chunks, len(checked))
    include: list[dict[str, str]] = []
    start = 0
    for index in range(jobs):
        size = len(checked) // jobs + (1 if index < len(checked) % jobs else 0)
        group = checked[start : start + size]
        start += size
        include.append(
            {
                "chunk": f"{index + 1}-of-{jobs}",
                "tenants": " ".join(group),
                "args": " ".join(f"-t {n}" for n in group),
            }
        )
    return {"include": include}


def _checked(name: str) -> str:
    """Tenant names end up unquoted in shell arguments: only slugs may pass."""
    if not _SHELL_SAFE_NAME.match(name):
        raise ValueError(f"tenant name {name!r} is not a slug; refusing to put it in a matrix")
    return name


# --- what changed since a git revision -----------------------------------------------------------


@dataclass(frozen=True)
class ChangeSet:
    """Tenants whose desired state may differ from the one at `ref`."""

    ref: str
    commit: str
    changed: list[str]  # inventory order
    removed: list[str]  # at `ref`, no longer in the inventory
    reasons: dict[str, str] = field(default_factory=dict)  # tenant -> why it is selected
    fleet_reason: str | None = None  # why every tenant is selected, if so

    @property
    def at(self) -> str:
        return f"{self.ref} ({self.commit[:12]})"

    def notes(self) -> list[str]:
        at = self.at
        lines: list[str] = []
        if self.fleet_reason:
            lines.append(f"every tenant is selected: {self.fleet_reason}")
        elif self.changed:
            lines.append(
                f"{len(self.changed)} tenant(s) changed since {at}: "
                + ", ".join(f"{n} ({self.reasons.get(n, 'changed')})" for n in self.changed)
            )
        else:
            lines.append(f"no tenant changed since {at}")
        lines.extend(
            f"tenant {n!r} was removed from the inventory since {at}: apply does not delete "
            "its Key Vault secrets or workspace files; remove them by hand if they must go"
            for n in self.removed
        )
        return lines


def changed_tenants(inv: Inventory, ref: str, templates: str | Path | None = None) -> ChangeSet:
    """Compare the inventory (working tree) with its version at git revision `ref`."""
    inv_file = Path(inv.path).resolve()
    base = Path(inv.path).parent.resolve()  # where file: references start (as in secrets.py)
    git = _Git(inv_file.parent, inv.path)
    root = git.toplevel()
    git.cwd = root  # pathspecs and <rev>:<path> below are relative to the work tree's root
    commit = git.commit_of(ref)
    rel_inventory = _relative(inv_file, root)
    if rel_inventory is None:
        raise UserInputError([Problem("is not inside its git work tree", file=str(inv.path))])
    names = [t.name for t in inv.tenants]
    at = f"{ref} ({commit[:12]})"

    def everyone(reason: str, removed: list[str] | None = None) -> ChangeSet:
        return ChangeSet(ref, commit, names, removed or [], fleet_reason=reason)

    old_text = git.file_at(commit, rel_inventory)
    if old_text is None:
        return everyone(f"{rel_inventory} did not exist at {at}")
    try:
        old = load_inventory_text(old_text, Path(inv.path))
    except UserInputError:
        return everyone(f"{rel_inventory} at {at} does not validate")
    old_by_name = {t.name: t for t in old.tenants}
    removed = [n for n in old_by_name if n not in set(names)]

    changed_templates = git.changed_paths(commit, _template_dirs(root, base, templates))
    if changed_templates:
        return everyone(
            f"templates changed since {at}: " + ", ".join(changed_templates[:5]), removed
        )

    reasons: dict[str, str] = {}
    unchanged: list[Tenant] = []
    for t in inv.tenants:
        before = old_by_name.get(t.name)
        if before is None:
            reasons[t.name] = "new"
        elif t.absent and not before.absent:
            reasons[t.name] = "offboarded (state: absent)"
        elif before.model_dump(mode="json") != t.model_dump(mode="json"):
            reasons[t.name] = "entry changed"
        else:
            unchanged.append(t)
    # Same references as before: did the content of a referenced secret file change?
    files = {t.name: _secret_files(t, base, root) for t in unchanged}
    all_files = sorted({p for paths in files.values() for p in paths})
    changed_files = set(git.changed_paths(commit, all_files)) if all_files else set()
    for t in unchanged:
        hit = sorted(p for p in files[t.name] if p in changed_files)
        if hit:
            reasons[t.name] = "secret file changed: " + ", ".join(hit)
    return ChangeSet(ref, commit, [n for n in names if n in reasons], removed, reasons=reasons)


def _secret_files(t: Tenant, base: Path, root: Path) -> set[str]:
    """Repository-relative paths of the tenant's `file:` secret sources (as written and as
    resolved through symlinks; files outside the repository cannot be compared)."""
    from provision.msticpy_contract.secret_names import secret_settings

    out: set[str] = set()
    for s in secret_settings(t):
        if not s.source.startswith("file:"):
            continue
        written = Path(os.path.normpath(base / s.source[5:]))
        for candidate in (written, written.resolve()):
            rel = _relative(candidate, root)
            if rel is not None:
                out.add(rel)
    return out


def _template_dirs(root: Path, inventory_dir: Path, templates: str | Path | None) -> list[str]:
    from provision.render import default_templates_dir

    candidates = [root / "templates", inventory_dir / "templates"]
    candidates.append(Path(templates).resolve() if templates else default_templates_dir().resolve())
    out: list[str] = []
    for c in candidates:
        rel = _relative(c, root)
        if rel is not None and rel not in out:
            out.append(rel)
    return out


def _relative(path: Path, root: Path) -> str | None:
    """`path` relative to the work tree `root` in git's notation, or None when outside it."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    return rel.as_posix() or "."


class _Git:
    """The few git commands needed here; every failure becomes a user-facing error."""

    def __init__(self, cwd: Path, inventory: str | Path) -> None:
        exe = shutil.which("git")
        if exe is None:
            raise UserInputError(["--changed-since needs git, which is not on PATH"])
        self.exe = exe
        self.cwd = cwd
        self.inventory = str(inventory)
        self.env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_OVERRIDES}
        self.env["GIT_TERMINAL_PROMPT"] = "0"
        self.env["LC_ALL"] = "C"

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(  # noqa: S603 (fixed git argv; refs are checked and resolved)
                [self.exe, "-C", str(self.cwd), *args],
                capture_output=True,
                env=self.env,
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UserInputError([f"git {args[0]} failed: {exc}"]) from None

    def _fail(self, proc: subprocess.CompletedProcess[bytes], what: str) -> UserInputError:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        last = detail[-1].removeprefix("fatal: ") if detail else f"exit code {proc.returncode}"
        return UserInputError([Problem(f"{what}: {last}", file=self.inventory)])

    def toplevel(self) -> Path:
        proc = self._run("rev-parse", "--show-toplevel")
        if proc.returncode != 0:
            raise self._fail(proc, "--changed-since needs the inventory in a git work tree")
        return Path(proc.stdout.decode("utf-8").strip()).resolve()

    def commit_of(self, ref: str) -> str:
        if not ref or ref.startswith("-") or any(ch.isspace() or ch == "\x00" for ch in ref):
            raise UserInputError([f"--changed-since {ref!r}: not a git revision"])
        proc = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if proc.returncode != 0:
            raise UserInputError(
                [
                    f"--changed-since {ref!r}: no such commit in this repository (unknown ref, "
                    "or a shallow clone: check out with fetch-depth: 0)"
                ]
            )
        return proc.stdout.decode("ascii").strip()

    def file_at(self, commit: str, rel: str) -> str | None:
        """The file's text at `commit`; None if it did not exist (or was not UTF-8 text)."""
        spec = f"{commit}:{rel}"
        if self._run("cat-file", "-e", spec).returncode != 0:
            return None
        proc = self._run("cat-file", "blob", spec)
        if proc.returncode != 0:
            raise self._fail(proc, f"reading {rel} at {commit[:12]}")
        try:
            return proc.stdout.decode("utf-8")
        except UnicodeDecodeError:
            return ""  # not text: load_inventory_text rejects it, so every tenant counts

    def changed_paths(self, commit: str, paths: Sequence[str]) -> list[str]:
        """Paths under `paths` that differ between `commit` and the working tree, including
        files git does not track yet."""
        if not paths:
            return []
        spec = ["--", *(f":(literal){p}" for p in paths)]
        diff = self._run(
            "diff", "--no-ext-diff", "--no-relative", "--name-only", "-z", commit, *spec
        )
        if diff.returncode != 0:
            raise self._fail(diff, f"git diff against {commit[:12]}")
        new = self._run("ls-files", "-z", "--others", "--exclude-standard", "--full-name", *spec)
        if new.returncode != 0:
            raise self._fail(new, "listing untracked files")
        found = [p for p in (diff.stdout + new.stdout).decode("utf-8", "replace").split("\0") if p]
        return sorted(dict.fromkeys(found))
