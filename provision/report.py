"""Reports: tables for people, JSON for machines, Markdown for the GitHub step summary.

Secret values never reach a report: items carry vault/name targets and reasons only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from provision.plan import TenantResult

if TYPE_CHECKING:
    from provision.readiness import Readiness

Readinesses = Mapping[str, "Readiness"]


def rich_escape(text: str) -> str:
    """Text shown as is by rich (an error may hold '[...]', which rich reads as markup)."""
    from rich.markup import escape

    return escape(text)


ACTION_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "noop": "dim",
    "report": "cyan",
}


def totals(results: list[TenantResult]) -> dict[str, int]:
    out = {"tenants": len(results), "failed": 0, "create": 0, "update": 0, "delete": 0, "noop": 0}
    for r in results:
        out["failed"] += r.error is not None
        for k, v in r.counts().items():
            out[k] += v
    return out


# The version of the JSON document `--json` prints (plan, apply, verify, onboard). Its keys are
# described in docs/plan-output.md and held by docs/plan-output.schema.json; change the version
# when a key is removed or renamed or changes its type or meaning (a new key does not).
SCHEMA_VERSION = 1


def as_document(
    mode: str,
    results: list[TenantResult],
    extra: dict[str, Any] | None = None,
    readiness: Readinesses | None = None,
) -> dict[str, Any]:
    """The report as one JSON document (docs/plan-output.md)."""
    t = totals(results)
    ready = readiness or {}
    return {
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "ok": t["failed"] == 0,
        "changes_pending": any(r.changes for r in results) if mode == "plan" else None,
        "totals": t,
        "tenants": [
            {
                **r.as_dict(),
                **({"readiness": ready[r.tenant].as_dict()} if r.tenant in ready else {}),
            }
            for r in results
        ],
        # every tenant's secrets expiring within --warn-expiry days, or expired
        # (docs/secrets-lifecycle.md); the drift workflow annotates each
        "expiring": [e.as_dict() for r in results for e in r.expiring],
        **(extra or {}),
    }


def summary_line(mode: str, results: list[TenantResult]) -> str:
    t = totals(results)
    verb = {"plan": "Plan", "apply": "Applied", "verify": "Verify"}[mode]
    return (
        f"{verb}: {t['create']} to create, {t['update']} to update, {t['delete']} to delete, "
        f"{t['noop']} unchanged across {tenants(t['tenants'])}; {t['failed']} failed"
        if mode == "plan"
        else f"{verb}: {t['create']} created, {t['update']} updated, {t['delete']} deleted, "
        f"{t['noop']} unchanged across {tenants(t['tenants'])}; {t['failed']} failed"
        if mode == "apply"
        else f"{verb}: {t['tenants'] - t['failed']} of {t['tenants']} tenants match the inventory"
    )


def tenants(n: int) -> str:
    """ "1 tenant", "2 tenants"."""
    return f"{n} tenant" if n == 1 else f"{n} tenants"


def status_text(r: TenantResult, readiness: Readinesses | None = None) -> str:
    """A tenant's status for people: FAILED, ok, or ok with how many of its analysts are ready
    (provision.readiness)."""
    if r.error:
        return "[red]FAILED[/red]"
    ready = (readiness or {}).get(r.tenant)
    if ready is None or not ready.analysts:
        return "[green]ok[/green]"
    n, total = ready.ready, len(ready.analysts)
    style = "green" if n == total else "yellow"
    return f"[green]ok[/green] — [{style}]{n}/{total} analysts ready[/{style}]"


def print_next_steps(readiness: Readinesses) -> None:
    """What is left before every analyst can use their notebooks, with the commands."""
    pending = [r for r in readiness.values() if r.steps]
    if not pending:
        return
    console = _console()
    console.print("\nNext steps:")
    where = {"terminal": " (in the instance's terminal)", "analyst": " (the analyst, once)"}
    for r in pending:
        console.print(f"  {r.tenant} ({r.ready}/{len(r.analysts)} analysts ready):")
        for s in r.steps:
            users = ", ".join(s.users)
            console.print(
                f"    - {s.what} [{users}]{where.get(s.where, '')}", markup=False, soft_wrap=True
            )
            if s.command:
                console.print(f"        {s.command}", markup=False, soft_wrap=True)


def _console() -> Any:
    from rich.console import Console

    # Piped or in CI, rich would wrap at 80 columns; log viewers are wider.
    width = None if sys.stdout.isatty() else 140
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def print_summary(
    mode: str, results: list[TenantResult], readiness: Readinesses | None = None
) -> None:
    """The total, then one line per tenant: for steps whose items were already shown. An apply's
    counts are what it changed; a verify's line says what reading back found."""
    console = _console()
    console.print(summary_line(mode, results))
    for r in results:
        if r.error:
            status = f"[red]FAILED: {rich_escape(r.error)}[/red]"
        else:
            status = status_text(r, readiness)
        if mode == "verify":
            c = r.counts()
            checked = sum(c.values())
            line = f"  {r.tenant}: {status}  ({checked} items read back)"
        else:
            line = f"  {r.tenant}: {status}  {counts_text(r)}"
        console.print(line, soft_wrap=True)


def counts_text(r: TenantResult) -> str:
    c = r.counts()
    return f"(+{c['create']} ~{c['update']} -{c['delete']} ={c['noop']})"


# Notes that restate how a tenant is set up: the same on every run, so a table shows them only
# when the tenant has changes (every note is always in --json; docs/plan-output.md).
# (An analyst without object_id is a readiness step, printed under "Next steps".)
SETUP_NOTES = ("file share access: ", "secrets go to ", "vault access not checked for ")


def shown_notes(r: TenantResult) -> tuple[list[str], int]:
    """The notes a table prints, and how many setup notes it leaves to --json."""
    if r.changes:
        return r.notes, 0
    shown = [n for n in r.notes if not n.startswith(SETUP_NOTES)]
    return shown, len(r.notes) - len(shown)


def print_tables(
    mode: str,
    results: list[TenantResult],
    show_noop: bool = False,
    readiness: Readinesses | None = None,
) -> None:
    from rich.table import Table

    console = _console()
    for r in results:
        # The title is printed on its own: as a table's title rich pads it to the table's width
        # (trailing spaces in a piped log).
        console.print(f"{r.tenant}: {status_text(r, readiness)}  {counts_text(r)}")
        table = Table(show_lines=False, expand=False)
        table.add_column("kind")
        table.add_column("target", overflow="fold")
        table.add_column("action")
        table.add_column("detail", overflow="fold")
        for item in r.items:
            if item.action == "noop" and not show_noop:
                continue
            style = ACTION_STYLE.get(item.action, "")
            table.add_row(item.kind, item.target, f"[{style}]{item.action}[/{style}]", item.detail)
        if table.row_count:
            console.print(table)
        # Notes and errors are never wrapped: one problem, one line (for people and for grep).
        notes, hidden = shown_notes(r)
        for note in notes:
            console.print(f"  note: {note}", soft_wrap=True, markup=False)
        if hidden:
            noun = "note" if hidden == 1 else "notes"
            console.print(
                f"  ({hidden} setup {noun}: shown when the tenant has changes, and in --json)"
            )
        if r.error:
            console.print(f"  [red]error:[/red] {rich_escape(r.error)}", soft_wrap=True)
    console.print(summary_line(mode, results))
    if readiness:
        print_next_steps(readiness)


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2))


def write_step_summary(mode: str, results: list[TenantResult]) -> None:
    """Append a Markdown summary to $GITHUB_STEP_SUMMARY when running under GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    lines = [
        f"### msticpy-provision {mode}",
        "",
        summary_line(mode, results),
        "",
        "| tenant | status | create | update | delete | unchanged |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r.counts()
        status = "failed: " + _md(r.error) if r.error else "ok"
        lines.append(
            f"| {_md(r.tenant)} | {status} | {c['create']} | {c['update']} | "
            f"{c['delete']} | {c['noop']} |"
        )
    changes = [(r.tenant, i) for r in results for i in r.items if i.is_change]
    if changes:
        lines += [
            "",
            "<details><summary>changes</summary>",
            "",
            "| tenant | kind | target | action | detail |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_md(t)} | {i.kind} | {_md(i.target)} | {i.action} | {_md(i.detail)} |"
            for t, i in changes
        ]
        lines += ["", "</details>"]
    # Orphans without --prune, and compute instances kept for offboarded tenants: not changes,
    # but what a reader of the run should know.
    reported = [(r.tenant, i) for r in results for i in r.items if i.action == "report"]
    reported = [(t, i) for t, i in reported if i.kind != "compute" or "offboarded" in i.detail]
    if reported:
        lines += [
            "",
            f"<details><summary>reported, not changed ({len(reported)})</summary>",
            "",
            "| tenant | kind | target | detail |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_md(t)} | {i.kind} | {_md(i.target)} | {_md(i.detail)} |" for t, i in reported
        ]
        lines += ["", "</details>"]
    expiring = [e for r in results for e in r.expiring]
    if expiring:
        lines += [
            "",
            f"<details><summary>secrets expiring or expired ({len(expiring)})</summary>",
            "",
            "| tenant | secret | source | expires | days left |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_md(e.tenant)} | {_md(e.vault)}/{_md(e.secret)} | {_md(e.source)} | "
            f"{e.expires_text} | {e.days_left:g} |"
            for e in expiring
        ]
        lines += ["", "</details>"]
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class Progress:
    """Per-tenant progress: a live view on a terminal, plain lines in CI or when piped."""

    def __init__(self, total: int, title: str) -> None:
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self.live = sys.stderr.isatty() and not os.environ.get("CI")
        self._progress: Any = None
        self._task: Any = None
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[step]}"),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self._task = self._progress.add_task(title, total=total, step="")
            self._progress.start()
        else:
            print(f"{title}: {tenants(total)}", file=sys.stderr, flush=True)

    def __call__(self, tenant: str, step: str) -> None:
        with self._lock:
            final = step == "done" or step.startswith("failed")
            if final:
                self.done += 1
            if self.live:
                self._progress.update(self._task, completed=self.done, step=f"{tenant}: {step}")
            elif final:
                print(f"[{self.done}/{self.total}] {tenant}: {step}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
