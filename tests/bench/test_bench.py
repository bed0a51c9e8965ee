"""`invoke bench --quick --json`: the document's keys and types, and a no-op re-apply that writes
nothing. The figures themselves depend on the machine and are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provision.commands.common import prepare
from provision.devtools.bench import run_bench, run_bench_scale
from provision.devtools.bench_report import JSON_KEYS
from provision.devtools.bench_signin import MODES
from provision.devtools.fleet import write_fleet
from provision.errors import UserInputError

FLOAT_KEYS = {k for k in JSON_KEYS if k.endswith(("_s", "_ms"))} | {
    "speedup_vs_sequential",
    "ratio_to_floor",
    "client_to_raw_cpu_ratio",
}
INT_KEYS = {"first_reads", "first_writes", "noop_reads", "noop_signin_requests", "noop_writes"}
PARAM_KEYS = {
    "tenants": int,
    "users": int,
    "secrets": int,
    "latency_ms": float,
    "max_concurrency": int,
    "cpu_count": int,
    "python_version": str,
}


@pytest.mark.slow
def test_quick_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_bench(
        tenants=50, users=3, secrets=5, latency_ms=50.0, max_concurrency=0, quick=True, as_json=True
    )
    assert code == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert set(doc) == set(JSON_KEYS) | set(PARAM_KEYS) | {"signin"}
    _check_signin(doc["signin"], sizes=[6])
    for key in FLOAT_KEYS:
        assert isinstance(doc[key], (int, float)) and not isinstance(doc[key], bool), key
        assert doc[key] >= 0, key
    for key in INT_KEYS:
        assert isinstance(doc[key], int) and not isinstance(doc[key], bool), key
    for key, kind in PARAM_KEYS.items():
        assert isinstance(doc[key], kind), key
    assert (doc["tenants"], doc["users"], doc["secrets"], doc["latency_ms"]) == (6, 2, 3, 20.0)
    assert doc["first_writes"] > 0
    assert doc["noop_writes"] == 0
    assert doc["noop_reads"] > 0
    # each tenant signs in again (its clients were released), and that is shown apart
    assert 0 < doc["noop_signin_requests"] < doc["noop_reads"]
    # the raw baseline replayed the same requests and cost some CPU: the ratio is defined
    assert doc["raw_cpu_per_request_ms"] > 0
    assert doc["client_cpu_per_request_ms"] > 0
    ratio = doc["client_cpu_per_request_ms"] / doc["raw_cpu_per_request_ms"]
    assert abs(ratio - doc["client_to_raw_cpu_ratio"]) < 0.05 * ratio + 0.01


@pytest.mark.parametrize("secrets", [0, 1, 8, 15])
def test_generated_inventory_is_valid(tmp_path: Path, secrets: int) -> None:
    path = write_fleet(tmp_path, tenants=3, users=2, secrets=secrets).path
    inv, renders = prepare(str(path), [], None, check_secrets=True)
    assert [t.name for t in inv.tenants] == ["t001", "t002", "t003"]
    assert len({t.tenant_id for t in inv.tenants}) == 3
    assert len({t.subscription_id for t in inv.tenants}) == 3
    for r in renders:
        assert len(r.pushes) == secrets
        assert [u.alias for u in r.tenant.user_list] == ["u1", "u2"]
        assert sum(ws.default for ws in r.tenant.sentinel) == 1


def test_too_many_secrets(tmp_path: Path) -> None:
    with pytest.raises(UserInputError):
        write_fleet(tmp_path, tenants=1, users=1, secrets=99)


def _check_signin(rows: list[dict[str, object]], sizes: list[int]) -> None:
    """The sign-in dimension: every mode at every size; only the CLI starts processes, one per
    token request; the device code and OIDC modes none (docs/performance.md)."""
    by = {(r["mode"], r["tenants"]): r for r in rows}
    assert set(by) == {(m, n) for m in MODES for n in sizes}
    for n in sizes:
        assert by["none", n]["token_requests"] == 0
        cli = by["cli", n]
        assert cli["processes"] == cli["token_requests"] > 0
        for mode in ("client-secret", "device-code", "github-oidc"):
            row = by[mode, n]
            assert row["processes"] == 0, mode
            assert isinstance(row["token_requests"], int) and row["token_requests"] >= n, mode
            assert 0 < float(str(row["signin_wall_s"])) <= float(str(row["run_wall_s"])), mode
        assert float(str(cli["signin_cpu_s"])) > float(str(by["device-code", n]["signin_cpu_s"]))
        assert "interactive_signin_s" in by["device-code", n]


@pytest.mark.slow
def test_scale_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_bench_scale(
        "1,2", users=2, secrets=2, latency_ms=5.0, max_concurrency=0, as_json=True
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["tenants"] for r in doc["scale"]] == [1, 2]
    one, two = doc["scale"]
    for row in doc["scale"]:
        assert row["requests"] > 0 and row["client_cpu_s"] > 0 and row["peak_rss_mb"] > 0
        assert row["noop_writes"] == 0
    # the same shape per tenant: twice the tenants, twice the requests (give or take the Key
    # Vault auth challenge, which the SDK answers once per host and process)
    assert abs(two["requests"] - 2 * one["requests"]) <= 2


def test_scale_sizes_must_be_numbers() -> None:
    with pytest.raises(UserInputError):
        run_bench_scale("10,x", users=1, secrets=1, latency_ms=0, max_concurrency=0, as_json=True)
