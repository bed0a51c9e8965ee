"""`invoke emulator`: run the emulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType

from provision.emulator.seed import seed_tenants_from_inventory
from provision.emulator.server import Emulator

__all__ = ["run_emulator"]


def run_emulator(
    state_dir: str,
    port: int = 0,
    seed_inventory: str | None = None,
    faults: str | None = None,
    latency_ms: float = 0.0,
    fault_seed: int = 0,
    throttle: str | None = None,
) -> int:
    """Start the emulator, print where its endpoints are, serve until interrupted; return 0.

    Raises provision.errors.UserInputError for a bad fault or throttle SPEC, latency or
    inventory.
    """
    tenants = []
    if seed_inventory:
        from provision.inventory.load import load_inventory

        tenants = seed_tenants_from_inventory(load_inventory(seed_inventory))
    emulator = Emulator(
        Path(state_dir),
        port=port,
        faults=faults,
        latency_ms=latency_ms,
        fault_seed=fault_seed,
        throttle=throttle,
    )
    if latency_ms < 0:
        emulator.set_latency(latency_ms)  # raises UserInputError
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with emulator.start(tenants):  # endpoints.json only once seeded and listening
            print(f"endpoints: {emulator.endpoints_file}", flush=True)
            print(json.dumps(emulator.endpoints, indent=2), flush=True)
            print(
                f"Azure's own hostnames (<vault>.vault.azure.net, <account>.file.core.windows.net, "
                f"management.azure.com, login.microsoftonline.com) through the HTTPS proxy "
                f"{emulator.proxy_url}; every other host is refused there with 502",
                flush=True,
            )
            print(f"environment for your own Azure SDK code: source {emulator.env_file}")
            print(emulator.env_file.read_text(encoding="utf-8"), end="", flush=True)
            print("serving; press Ctrl+C to stop", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("emulator stopped", flush=True)
    return 0
