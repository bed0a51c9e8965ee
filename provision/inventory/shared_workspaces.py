"""Tenants that share one Azure ML workspace: each user folder belongs to one tenant.

A user folder `Users/<alias>/` holds one `msticpyconfig.yaml`: two tenants writing it would give
the analyst whichever tenant applied last (and verify would fail for the other). So two tenants
on one workspace must have different analysts. Azure Files compares names case-insensitively
(`Users/Alice` is `Users/alice`), and so do ARM resource names; both are compared that way here.
Each tenant keeps its own lock and manifest on the share (provision.share), so tenants with
different analysts on one workspace are applied in one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provision.errors import Problem
from provision.yamlsource import YamlDocument


def _workspace_key(t: Any) -> tuple[str, str, str, str]:
    return (t.cloud, t.subscription_id.lower(), t.resource_group.lower(), t.ml_workspace.lower())


def same_user_folder(t1: Any, u1: Any, t2: Any, u2: Any) -> bool:
    """Do two user entries name one `Users/<alias>/` folder of one workspace?"""
    return bool(
        _workspace_key(t1) == _workspace_key(t2) and u1.alias.casefold() == u2.alias.casefold()
    )


def shared_user_folder_problems(tenants: list[Any], path: Path, doc: YamlDocument) -> list[Problem]:
    """One problem per user entry that claims a user folder another tenant already claims."""
    owners: dict[tuple[tuple[str, str, str, str], str], tuple[int, int]] = {}
    problems: list[Problem] = []
    for ti, t in enumerate(tenants):
        for ui, user in enumerate([] if t.absent else t.user_list):
            key = (_workspace_key(t), user.alias.casefold())
            if key not in owners:
                owners[key] = (ti, ui)
                continue
            oti, oui = owners[key]
            if oti == ti:
                continue  # a duplicate alias within a tenant: the tenant's own rules say so
            other = tenants[oti]
            problems.append(
                Problem(
                    f"Users/{user.alias}/ in ML workspace {t.ml_workspace!r} is also claimed by "
                    f"tenant {other.name!r} (tenants[{oti}].users[{oui}], line "
                    f"{doc.line_of(('tenants', oti, 'users', oui))}); a user folder holds one "
                    "msticpyconfig.yaml: give each tenant its own analysts on a shared workspace",
                    file=str(path),
                    line=doc.line_of(("tenants", ti, "users", ui)),
                    path=f"tenants[{ti}].users[{ui}]",
                )
            )
    return problems
