"""`invoke bench`'s sign-in dimension: what getting the tokens costs, per `--auth` mode and fleet
size, in a first apply of a synthetic fleet against the emulator (a process of its own).

Modes: ``client-secret`` (the emulator's registered application per tenant: one cheap request per
tenant and audience; what the other figures of the benchmark use), ``cli`` (`AzureCliCredential`,
one ``az`` process per token: `bench_az`, at the measured cost of the real CLI),
``device-code`` (one interactive sign-in before the run, the user's step done at once, then
every tenant silently from the refresh token) and ``github-oidc`` (the emulator's stand-in for
the workflow's OIDC token, exchanged per tenant).

Per run: token requests (the emulator's identity endpoints, from its request log), processes
started (``subprocess.Popen`` audit events of this process), sign-in wall time (the union of the
intervals spent inside a credential's get_token), sign-in CPU (the requesting threads' CPU inside
get_token, plus the CPU of the child processes), the run's wall time and sign-in's share of it
(sign-in wall / run wall: time during which some token request was pending, waiting for a
transport slot or the token cache included), and the wall time the mode adds to the run against
``none`` (the same apply with the emulator's static token: no sign-in at all).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["MODES", "measure_signin"]

# "none": the emulator's static operator token, no token request at all: the run's wall time
# without sign-in, against which each mode's added wall time is measured.
MODES = ("none", "client-secret", "cli", "device-code", "github-oidc")
_counting = threading.Event()
_processes = [0]
_hooked = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Counts the processes a token request starts (not the run's others: `bash -n` checks of
    its startup scripts while rendering, `uname -p` for a user agent)."""
    if event == "subprocess.Popen" and _counting.is_set():
        from provision.signin import current_meter

        meter = current_meter()
        if meter is not None and meter.in_request():
            _processes[0] += 1


@contextlib.contextmanager
def _counted_processes() -> Iterator[list[int]]:
    """Processes this process starts in the block (an audit hook: it sees every Popen)."""
    if not _hooked[0]:
        sys.addaudithook(_audit)
        _hooked[0] = True
    _processes[0] = 0
    _counting.set()
    try:
        yield _processes
    finally:
        _counting.clear()


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _User(io.StringIO):
    """The admin at the keyboard: reads the device code prompt and enters the code at once."""

    def __init__(self, ca_cert: str | None, login: str) -> None:
        super().__init__()
        self.ca_cert, self.login = ca_cert, login

    def write(self, text: str) -> int:
        import requests

        found = re.search(r"open (\S+) and enter the code (\w+)", text)
        if found:
            requests.post(
                found.group(1),
                data={"otc": found.group(2), "login": self.login},
                verify=self.ca_cert or True,
                timeout=30,
            ).raise_for_status()
        return super().write(text)


def _interactive_sign_in(endpoints_file: Path, first_tenant: str) -> float:
    """The one device-code sign-in before the run (the record and cache land in HOME)."""
    from provision.azure import load_endpoints_file
    from provision.signin import AuthMode, SignIn, SignInCredentials

    ep = load_endpoints_file(endpoints_file)
    login = str(json.loads(endpoints_file.read_text())["admin_user"])
    started = time.perf_counter()
    with contextlib.redirect_stderr(_User(ep.ca_cert, login)):
        signin = SignIn(mode=AuthMode.DEVICE_CODE, allow_unencrypted_cache=True)
        SignInCredentials(signin, ep, lambda: None, None).credential(first_tenant)
    return time.perf_counter() - started


@contextlib.contextmanager
def _mode(mode: str, work: Path, emu: Any, first_tenant: str) -> Iterator[dict[str, Any]]:
    """The environment of a mode, and what it cost before the run (the interactive sign-in)."""
    endpoints = emu.endpoints()
    msi = endpoints["managed_identity"]
    if mode == "none":
        without = {k: v for k, v in endpoints.items() if k != "authority"}
        static = work / f"endpoints-{emu.state_dir.name}.json"
        static.write_text(json.dumps(without), encoding="utf-8")
        yield {"auth": None, "endpoints": static}
    elif mode == "client-secret":
        yield {"auth": None}
    elif mode == "cli":
        bin_dir = work / "az-bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        az = bin_dir / "az"
        script = Path(__file__).with_name("bench_az.py")
        ca = shlex.quote(str(endpoints["ca_cert"]))
        az.write_text(
            f'#!/bin/sh\nREQUESTS_CA_BUNDLE={ca} exec "{sys.executable}" -I "{script}" "$@"\n'
        )
        az.chmod(az.stat().st_mode | stat.S_IXUSR)
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        with _environment(
            PATH=path, IDENTITY_ENDPOINT=msi["endpoint"], IDENTITY_HEADER=msi["header"]
        ):
            yield {"auth": "cli"}
    elif mode == "device-code":
        home = work / f"home-{emu.state_dir.name}"  # each fleet its own sign-in and cache
        with _environment(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config")):
            before = _interactive_sign_in(emu.endpoints_file, first_tenant)
            yield {"auth": "device-code", "allow_unencrypted_cache": True, "interactive": before}
    else:
        oidc = endpoints["github_oidc"]
        with _environment(
            ACTIONS_ID_TOKEN_REQUEST_URL=oidc["request_url"],
            ACTIONS_ID_TOKEN_REQUEST_TOKEN=oidc["request_token"],
        ):
            yield {"auth": "github-oidc"}


def measure_signin(
    work: Path,
    sizes: list[int],
    fleet: Callable[[Path, int], Path],
    emulator: Callable[[Path, Path], Any],
    apply: Callable[..., Any],
    status: Callable[[str], None],
) -> list[dict[str, Any]]:
    """One first apply per mode and fleet size; the figures of each (see the module doc)."""
    from provision.inventory.load import load_inventory
    from provision.signin import children_cpu_s, metered

    out: list[dict[str, Any]] = []
    warm = fleet(work / "signin-warm-up", 1)  # lazy imports paid before any measured run
    with emulator(work / "emu-signin-warm-up", warm) as emu:
        apply(warm, emu, "sign-in warm-up")
    for size in sizes:
        inventory = fleet(work / f"signin-fleet-{size}", size)
        first = load_inventory(inventory).tenants[0]
        first_tenant = str(first.auth_tenant_id or first.tenant_id)
        baseline = 0.0
        for mode in MODES:
            status(f"sign-in: {mode}, {size} tenants...")
            folder = work / f"emu-signin-{mode}-{size}"
            with (
                emulator(folder, inventory) as emu,
                _mode(mode, work, emu, first_tenant) as how,
                metered() as meter,
                _counted_processes() as processes,
            ):
                phase = apply(
                    inventory,
                    emu,
                    f"sign-in {mode}",
                    auth=how["auth"],
                    allow_unencrypted_cache=how.get("allow_unencrypted_cache", False),
                    endpoints_file=how.get("endpoints"),
                )
                start = meter.children_cpu_at_start
                children = children_cpu_s() - start if start is not None else 0.0
            wall = meter.wall_s()
            row = {
                "mode": mode,
                "tenants": size,
                "token_requests": sum(1 for e in phase.entries if e.get("service") == "identity"),
                "processes": processes[0],
                "signin_wall_s": round(wall, 3),
                "signin_cpu_s": round(meter.cpu_s + children, 3),
                "run_wall_s": round(phase.wall_s, 3),
                "signin_share": round(wall / phase.wall_s, 3) if phase.wall_s else 0.0,
            }
            if mode == "none":
                baseline = phase.wall_s
            row["added_wall_s"] = round(phase.wall_s - baseline, 3)
            if "interactive" in how:
                row["interactive_signin_s"] = round(how["interactive"], 3)
            status(
                f"sign-in: {mode}, {size} tenants: {row['token_requests']} token requests, "
                f"{row['processes']} processes, {row['signin_wall_s']} s of "
                f"{row['run_wall_s']} s ({100 * row['signin_share']:.0f} %), "
                f"CPU {row['signin_cpu_s']} s"
            )
            out.append(row)
    return out
