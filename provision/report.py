"""Reports: tables for people, JSON for machines, Markdown for the GitHub step summary.

Secret values never reach a report: items carry vault/name targets and reasons only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from provision.plan import TenantResult


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
    mode: str, results: list[TenantResult], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report as one JSON document (docs/plan-output.md)."""
    t = totals(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "ok": t["failed"] == 0,
        "changes_pending": any(r.changes for r in results) if mode == "plan" else None,
        "totals": t,
        "tenants": [r.as_dict() for r in results],
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
        f"{t['noop']} unchanged across {t['tenants']} tenants; {t['failed']} failed"
        if mode == "plan"
        else f"{verb}: {t['create']} created, {t['update']} updated, {t['delete']} deleted, "
        f"{t['noop']} unchanged across {t['tenants']} tenants; {t['failed']} failed"
        if mode == "apply"
        else f"{verb}: {t['tenants'] - t['failed']} of {t['tenants']} tenants match the inventory"
    )


def _console() -> Any:
    from rich.console import Console

    # Piped or in CI, rich would wrap at 80 columns; log viewers are wider.
    width = None if sys.stdout.isatty() else 140
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)


def print_summary(mode: str, results: list[TenantResult]) -> None:
    """One line per tenant and the total: for steps whose items were already shown."""
    console = _console()
    for r in results:
        c = r.counts()
        status = f"[red]FAILED: {rich_escape(r.error)}[/red]" if r.error else "[green]ok[/green]"
        console.print(
            f"  {r.tenant}: {status}  (+{c['create']} ~{c['update']} -{c['delete']} ={c['noop']})",
            soft_wrap=True,
        )
    console.print(summary_line(mode, results))


def print_tables(mode: str, results: list[TenantResult], show_noop: bool = False) -> None:
    from rich.table import Table

    console = _console()
    for r in results:
        counts = r.counts()
        status = "[red]FAILED[/red]" if r.error else "[green]ok[/green]"
        title = (
            f"{r.tenant}: {status}  (+{counts['create']} ~{counts['update']} "
            f"-{counts['delete']} ={counts['noop']})"
        )
        table = Table(title=title, title_justify="left", show_lines=False, expand=False)
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
        else:
            console.print(title)
        # Notes and errors are never wrapped: one problem, one line (for people and for grep).
        for note in r.notes:
            console.print(f"  note: {note}", soft_wrap=True, markup=False)
        if r.error:
            console.print(f"  [red]error:[/red] {rich_escape(r.error)}", soft_wrap=True)
    console.print(summary_line(mode, results))


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
            print(f"{title}: {total} tenants", file=sys.stderr, flush=True)

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
