"""`emulator`: run the local Azure emulator in the foreground."""

from __future__ import annotations


def run(
    state_dir: str,
    port: int = 0,
    seed: str | None = None,
    faults: str | None = None,
    latency_ms: float = 0.0,
    fault_seed: int = 0,
) -> int:
    from provision.emulator.cli import run_emulator

    return run_emulator(
        state_dir=state_dir,
        port=port,
        seed_inventory=seed,
        faults=faults,
        latency_ms=latency_ms,
        fault_seed=fault_seed,
    )
