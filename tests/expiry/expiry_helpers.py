"""What the expiry suites share: an example fleet with one secret's expiry, the moved clock, runs
of the tool against the emulator, and its request log's writes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support import run_invoke

from provision import clock
from provision.emulator import Emulator
from provision.emulator.requestlog import is_write

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
CONTOSO_VAULT = "kv-contoso-nb"
OTX = "TIProviders-OTX-Args-AuthKey"
OTX_SOURCE = "file:secrets/contoso-otx.txt"


def set_otx_expiry(fleet: Path, keys: str | None) -> None:
    """Give contoso's OTX key its own expiry keys (`expires_in: P10D`), or none."""
    lines = fleet.read_text(encoding="utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if line.strip() == "OTX:") + 1
    value = f'{{ref: "{OTX_SOURCE}", {keys}}}' if keys else f'"{OTX_SOURCE}"'
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f"{indent}args: {{auth_key: {value}}}"
    fleet.write_text("\n".join(lines) + "\n", encoding="utf-8")


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """Move the one clock, for the tool (a child process inherits it) and the emulator."""
    monkeypatch.setenv(clock.NOW_ENV, when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def run(task: str, fleet: Path, emu: Emulator, *extra: str) -> Any:
    return run_invoke(
        task, "-i", str(fleet), "--endpoints", str(emu.endpoints_file), "-t", "contoso", *extra
    )


def run_json(task: str, fleet: Path, emu: Emulator, *extra: str) -> tuple[int, dict[str, Any]]:
    res = run(task, fleet, emu, "--json", *extra)
    assert res.stdout.strip(), res.stderr
    return res.returncode, json.loads(res.stdout)


def writes_since(emu: Emulator, mark: int) -> list[dict[str, Any]]:
    return [r for r in emu.requests()[mark:] if is_write(r)]


def days(n: float) -> timedelta:
    return timedelta(days=n)
