"""`render`: write every tenant's files into a local folder (all rendered and checked first)."""

from __future__ import annotations

import sys
from pathlib import Path

from provision.commands.common import prepare
from provision.errors import Problem, UserInputError
from provision.fsutil import write_atomic
from provision.report import tenants as tenants_text


def run(inventory: str, out: str, tenants: list[str], templates: str | None = None) -> int:
    """Render into OUT/<tenant>/...; everything is rendered and checked before the first write."""
    from rich.console import Console
    from rich.tree import Tree

    _, renders = prepare(inventory, tenants, templates)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError([Problem("output path exists and is not a folder", file=out)])
    writes: list[tuple[Path, bytes]] = []
    tree = Tree(str(out_dir))
    for r in renders:
        if r.tenant.absent:
            tree.add(f"{r.tenant.name}/ (state: absent: nothing to render)")
            continue
        branch = tree.add(f"{r.tenant.name}/")
        base = out_dir / r.tenant.name
        for name, f in r.tenant_files.items():
            writes.append((base / name, f.content))
            branch.add(name)
        users = branch.add("users/")
        for alias, files in r.user_files.items():
            ub = users.add(f"{alias}/")
            for name, f in files.items():
                if name in r.tenant_files:
                    continue
                writes.append((base / "users" / alias / name, f.content))
                ub.add(name)
    for path, data in writes:
        write_atomic(path, data)
    Console(file=sys.stdout, highlight=False, soft_wrap=True).print(tree)
    print(f"wrote {len(writes)} files for {tenants_text(len(renders))}")
    return 0
