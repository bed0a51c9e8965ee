"""What `invoke bench` prints: the figures (a table on stdout, or one JSON document) and the
details on stderr (the latency chain wave by wave, requests per tenant by operation, the
targets)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "JSON_KEYS",
    "BenchFigures",
    "checks",
    "print_details",
    "print_signin",
    "print_table",
    "targets",
]

JSON_KEYS = (
    "first_apply_s",
    "sequential_s",
    "noop_apply_s",
    "first_reads",
    "first_writes",
    "noop_reads",
    "noop_signin_requests",
    "noop_writes",
    "latency_floor_s",
    "throughput_floor_s",
    "client_cpu_s",
    "client_cpu_per_request_ms",
    "raw_cpu_per_request_ms",
    "client_to_raw_cpu_ratio",
    "speedup_vs_sequential",
    "ratio_to_floor",
    "list_s",
    "validate_s",
)


@dataclass
class BenchFigures:
    params: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    profile: Any = None  # bench_profile.Profile with --profile
    signin: list[dict[str, Any]] = field(default_factory=list)  # per --auth mode and fleet size

    def document(self) -> dict[str, Any]:
        return {**{k: self.figures[k] for k in JSON_KEYS}, **self.params, "signin": self.signin}


def targets(p: dict[str, Any]) -> tuple[float, float]:
    """(max ratio to the floor, min speed-up vs sequential) of the performance targets: 1.5 and
    20 for fleets of 50 tenants or more (50 x 3 x 5 at 50 ms), 2 and 10 for smaller ones
    (10 x 2 x 4 at 30 ms)."""
    return (1.5, 20.0) if p["tenants"] >= 50 else (2.0, 10.0)


def checks(b: BenchFigures) -> list[tuple[str, bool]]:
    """The targets, each with whether it was met. The client's CPU per request (and its ratio to
    the raw client's) is reported but is not a target: the cuts that moved it were inside the
    run-to-run noise and cost a copy of requests' internals."""
    f, p = b.figures, b.params
    noop_read_budget = p["secrets"] + 2 * p["users"] + 3
    max_ratio, min_speedup = targets(p)
    return [
        (
            f"first apply <= {max_ratio:g} x max(latency floor, throughput floor)",
            f["ratio_to_floor"] <= max_ratio,
        ),
        (f">= {min_speedup:g}x faster than sequential", f["speedup_vs_sequential"] >= min_speedup),
        ("no-op re-apply: 0 writes", f["noop_writes"] == 0),
        (
            f"no-op re-apply: <= {noop_read_budget} reads of Azure resources per tenant "
            "(secrets + 2 x users + 3; sign-in requests apart)",
            f["noop_reads"] - f["noop_signin_requests"] <= noop_read_budget * p["tenants"],
        ),
        ("invoke --list < 0.3 s", f["list_s"] < 0.3),
        ("invoke validate (example) < 0.6 s", f["validate_s"] < 0.6),
    ]


def print_details(b: BenchFigures, stream: IO[str], targets: bool) -> None:
    d = b.details
    print(
        "\nlatency chain of one tenant (replies grouped in waves, 1-tenant apply at "
        f"L_probe={d['probe_ms']:g} ms, wall {d['probe_wall_s']} s):",
        file=stream,
    )
    for i, wave in enumerate(d["waves"], 1):
        ops = Counter(wave)
        print(
            f"  {i:2d}. " + ", ".join(f"{op} x{n}" if n > 1 else op for op, n in ops.items()),
            file=stream,
        )
    print(f"  => {d['chain']} dependent round trips", file=stream)
    for label, key, rw in (
        ("first apply", "first_per_tenant", "first_rw_per_tenant"),
        ("no-op apply", "noop_per_tenant", "noop_rw_per_tenant"),
    ):
        reads, writes = d[rw]
        print(
            f"\n{label}: requests per tenant by operation "
            f"({reads:.2f} reads, {writes:.2f} writes per tenant):",
            file=stream,
        )
        for op, n in d[key].items():
            print(f"  {op:32s} {n}", file=stream)
    if targets:  # the table on stdout shows them otherwise
        print("\ntargets:", file=stream)
        for text, ok in checks(b):
            print(f"  [{'ok' if ok else 'MISSED'}] {text}", file=stream)


def print_table(b: BenchFigures) -> None:
    f, p = b.figures, b.params
    rows = [
        ("fleet", f"{p['tenants']} tenants x {p['users']} users x {p['secrets']} secrets"),
        ("latency / concurrency", f"{p['latency_ms']:g} ms / {p['max_concurrency']}"),
        ("machine", f"{p['cpu_count']} CPUs, Python {p['python_version']}"),
        (
            "first apply",
            f"{f['first_apply_s']:.2f} s  ({f['first_reads']} reads, "
            f"{f['first_writes']} writes, client CPU {f['client_cpu_s']:.2f} s)",
        ),
        (
            "sequential (C=1)",
            f"{f['sequential_s']:.2f} s  (speed-up {f['speedup_vs_sequential']:.1f}x)",
        ),
        (
            "no-op re-apply",
            f"{f['noop_apply_s']:.2f} s  ({f['noop_reads']} reads, of which "
            f"{f['noop_signin_requests']} sign-in, {f['noop_writes']} writes)",
        ),
        (
            "latency floor",
            f"{f['latency_floor_s']:.2f} s  ({b.details['chain']} round trips "
            f"x {p['latency_ms']:g} ms)",
        ),
        (
            "throughput floor",
            f"{f['throughput_floor_s']:.2f} s  ({b.details['first_requests']} "
            f"requests x {p['latency_ms']:g} ms / {p['max_concurrency']})",
        ),
        ("first apply / floor", f"{f['ratio_to_floor']:.2f}"),
        (
            "client CPU per request",
            f"{f['client_cpu_per_request_ms']:.3f} ms  (raw client "
            f"{f['raw_cpu_per_request_ms']:.3f} ms, ratio {f['client_to_raw_cpu_ratio']:.2f})",
        ),
        ("invoke --list", f"{f['list_s']:.3f} s"),
        ("invoke validate", f"{f['validate_s']:.3f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for text, ok in checks(b):
        print(f"{'ok' if ok else 'MISSED':<{width}}  {text}")


SIGNIN_COLUMNS = (
    ("mode", "mode"),
    ("tenants", "tenants"),
    ("token_requests", "token requests"),
    ("processes", "processes"),
    ("signin_wall_s", "sign-in wall s"),
    ("signin_cpu_s", "sign-in CPU s"),
    ("run_wall_s", "run wall s"),
    ("signin_share", "share"),
    ("added_wall_s", "added wall s"),
)


def print_signin(rows: list[dict[str, Any]], as_json: bool, params: dict[str, Any]) -> None:
    """The sign-in dimension alone (`invoke bench --signin`): a table, or one JSON document."""
    if as_json:
        import json

        print(json.dumps({**params, "signin": rows}, indent=2))
        return
    print(" | ".join(title for _, title in SIGNIN_COLUMNS))
    for row in rows:
        print(" | ".join(str(row[key]) for key, _ in SIGNIN_COLUMNS))
