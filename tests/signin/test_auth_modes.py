"""`--auth` on the tool's own tasks, against the emulator's authority: one device-code sign-in
for the whole fleet (the second tenant, where the admin user is a guest, through the refresh
token), the next run silent; GitHub OIDC per tenant as the tenant's application; the plan's
notes naming who signed in where; bad sign-in input as one line per problem."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from signin_helpers import enter_device_code
from support import BIN, run_invoke

from provision.emulator import Emulator
from provision.emulator.identity.users import ADMIN_USER
from provision.inventory.load import load_inventory
from provision.signin import CACHE_NAME, RECORD_FILE

CODE = re.compile(r"open (\S+) and enter the code (\w+)")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACTIONS_", "AZURE_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **extra)
    return env


def _plan(fleet: Path, emu: Emulator, home: Path, *flags: str, **env: str) -> Any:
    return subprocess.Popen(
        [str(BIN / "msticpy-provision"), "plan", "-i", str(fleet), "--json", *_at(emu), *flags],
        env=_env(home, **env),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _at(emu: Emulator) -> list[str]:
    return ["--endpoints", str(emu.endpoints_file)]


def _notes(stdout: str) -> dict[str, list[str]]:
    return {t["tenant"]: t["notes"] for t in json.loads(stdout)["tenants"]}


def _entra_tenants(fleet: Path) -> dict[str, str]:
    return {t.name: t.tenant_id for t in load_inventory(fleet).tenants}


@pytest.mark.slow  # two runs of plan over the example fleet: about 10 s
def test_device_code_signs_in_once_for_the_fleet_and_the_next_run_is_silent(
    fleet: Path, emu: Emulator, tmp_path: Path
) -> None:
    emu.backend.identity.flows.device_code_interval_s = 1
    home = tmp_path / "home"
    flags = ("--auth", "device-code", "--allow-unencrypted-cache")
    first = _plan(fleet, emu, home, *flags)
    prompts: list[str] = []

    def the_user() -> None:  # reads the prompt on stderr and enters the code
        assert first.stderr is not None
        for line in first.stderr:
            prompts.append(line)
            found = CODE.search(line)
            if found:
                enter_device_code(emu, found.group(1), found.group(2))

    reader = threading.Thread(target=the_user)
    reader.start()
    stdout = first.stdout.read() if first.stdout else ""
    assert first.wait(timeout=120) in (0, 2), "".join(prompts)
    reader.join()
    assert sum(bool(CODE.search(p)) for p in prompts) == 1  # one sign-in for every tenant
    assert any("unencrypted 0600 file" in p for p in prompts)  # said so
    tenants = _entra_tenants(fleet)
    for name, notes in _notes(stdout).items():
        signed = [n for n in notes if n.startswith("signed in")]
        assert signed == [
            f"signed in (--auth device-code) as user {ADMIN_USER} "
            f"(object {_user_oid(tenants[name])}) in Entra tenant {tenants[name]}"
        ]
    record = home / ".config" / "msticpy-provision" / RECORD_FILE
    cache = home / ".IdentityService" / f"{CACHE_NAME}.nocae"
    for private in (record, cache):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert "refresh_token" not in record.read_text()  # the record holds no secret
    cached = json.loads(cache.read_text())
    secrets = [
        e["secret"] for kind in ("RefreshToken", "AccessToken") for e in cached[kind].values()
    ]
    assert secrets
    shown = stdout + "".join(prompts)
    assert not [s for s in secrets if s in shown]  # no token in the plan, its notes or stderr

    second = _plan(fleet, emu, home, *flags)
    _, err = second.communicate(timeout=120)
    assert second.returncode in (0, 2), err
    assert not CODE.search(err)  # silent: the record and the cached refresh token


def _user_oid(tenant_id: str) -> str:
    from provision.emulator.identity.users import user_object_id

    return user_object_id(tenant_id, ADMIN_USER)


def test_github_oidc_signs_in_as_each_tenants_application(
    fleet: Path, emu: Emulator, tmp_path: Path
) -> None:
    oidc = emu.endpoints["github_oidc"]
    env_sh = emu.env_file.read_text()  # `source env.sh` gives a shell the same two variables
    assert f"export ACTIONS_ID_TOKEN_REQUEST_URL='{oidc['request_url']}'" in env_sh  # quoted ?
    assert f"export ACTIONS_ID_TOKEN_REQUEST_TOKEN={oidc['request_token']}" in env_sh
    run = _plan(
        fleet,
        emu,
        tmp_path,
        "--auth",
        "github-oidc",
        ACTIONS_ID_TOKEN_REQUEST_URL=oidc["request_url"],
        ACTIONS_ID_TOKEN_REQUEST_TOKEN=oidc["request_token"],
    )
    out, err = run.communicate(timeout=120)
    assert run.returncode in (0, 2), err
    assert oidc["request_token"] not in out + err
    apps = emu.endpoints["tenants"]
    tenants = _entra_tenants(fleet)
    for name, notes in _notes(out).items():
        app = apps[tenants[name]]
        assert (
            f"signed in (--auth github-oidc) as application {app['client_id']} "
            f"(object {app['object_id']}) in Entra tenant {tenants[name]}"
        ) in notes


def test_auth_mode_from_the_environment_and_bad_values_are_one_line(fleet: Path) -> None:
    bad = run_invoke("plan", "-i", str(fleet), "--local", "--auth", "sso")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: --auth 'sso': use one of default, cli, device-code, browser, github-oidc, "
        "managed-identity"
    ]
    env_bad = run_invoke(
        "plan", "-i", str(fleet), "--local", env={"MSTICPY_PROVISION_AUTH": "kerberos"}
    )
    assert env_bad.returncode == 1
    assert "MSTICPY_PROVISION_AUTH 'kerberos'" in env_bad.stderr
    assert "Traceback" not in env_bad.stderr


def test_github_oidc_outside_a_workflow_is_refused_before_anything_starts(
    fleet: Path, emu: Emulator, tmp_path: Path
) -> None:
    run = _plan(fleet, emu, tmp_path, "--auth", "github-oidc")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1
    assert err.strip().splitlines() == [
        "error: --auth github-oidc: ACTIONS_ID_TOKEN_REQUEST_URL and "
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN not set (GitHub sets them in a job with "
        "`permissions: id-token: write`)"
    ]
    assert out == ""
