"""provision.readiness as a pure judge over a run's items, and the terminal line it prints for an
existing instance, run by bash against a stand-in of the instance's mounted share."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import EXAMPLE

from provision.compute import SHARE_USERS_MOUNT, compute_report
from provision.inventory.load import load_inventory
from provision.plan import Action, Change, Kind, TenantPlan, TenantResult
from provision.readiness import assess, terminal_line
from provision.render import STARTUP_SCRIPT, render_tenants


def contoso() -> tuple:  # type: ignore[type-arg]
    inv = load_inventory(EXAMPLE)
    (r,) = render_tenants(inv, ["contoso"], None)
    return inv, r


def test_an_analyst_with_files_access_and_our_launcher_is_ready() -> None:
    _, r = contoso()
    bob = next(u for u in r.tenant.user_list if u.alias == "bob")
    items = (
        Change(Kind.FILE, "Users/bob/msticpyconfig.yaml", Action.NOOP),
        Change(Kind.ACCESS, "bob on kv-contoso-nb", Action.NOOP, "ok: Key Vault Secrets User"),
        Change(
            Kind.COMPUTE,
            bob.compute_name,
            Action.REPORT,
            "startup script is ours: inline launcher pinned to the current script (Running)",
        ),
    )
    ready = assess(r, TenantResult(TenantPlan("contoso", items)), "inv.yaml")
    # bob is ready; alice and carol.jones have no object_id and no instance report
    assert ready.ready == 1 and "bob" not in ready.blocked
    assert {s.key for s in ready.steps} == {"object-id"}


def test_a_plan_with_files_to_write_names_apply_and_an_apply_counts_them_done() -> None:
    _, r = contoso()
    items = (Change(Kind.FILE, "Users/bob/msticpyconfig.yaml", Action.CREATE, "not in the share"),)
    result = TenantResult(TenantPlan("contoso", items))
    planned = assess(r, result, "my inv.yaml")
    step = next(s for s in planned.steps if s.key == "apply")
    assert step.users == ("bob",)
    assert step.command == "msticpy-provision apply -i 'my inv.yaml' -t contoso"
    assert not [s for s in assess(r, result, "i.yaml", applied=True).steps if s.key == "apply"]


def test_no_instance_names_create_compute_and_sso_off_is_the_analysts_step() -> None:
    _, r = contoso()
    bob = next(u for u in r.tenant.user_list if u.alias == "bob")
    items = (
        Change(Kind.COMPUTE, bob.compute_name, Action.REPORT, compute_report(None, bob, r)),
        Change(
            Kind.COMPUTE,
            f"{bob.compute_name}/sso",
            Action.REPORT,
            "SSO off",
            policy={"field": "sso", "actual": "off", "desired": "on", "fix": "analyst"},
        ),
    )
    steps = {s.key: s for s in assess(r, TenantResult(TenantPlan("contoso", items)), "i").steps}
    assert steps["create-compute"].command == (
        "msticpy-provision create-compute -i i -t contoso --user bob"
    )
    assert steps["sso"].where == "analyst" and "Enable SSO" in steps["sso"].what


@pytest.fixture
def instance(tmp_path: Path) -> tuple[str, Path, Path]:
    """The terminal line made to run here: the share mount is a folder, sudo is not needed."""
    _, r = contoso()
    script = r.user_files["bob"][STARTUP_SCRIPT].content
    mount = tmp_path / "Users"
    (mount / "bob").mkdir(parents=True)
    marker = tmp_path / "ran"
    line = terminal_line("bob", script)
    assert SHARE_USERS_MOUNT in line and 'sudo bash "$f"' in line
    line = line.replace(SHARE_USERS_MOUNT, str(mount)).replace("sudo bash", "bash")
    return line, mount / "bob" / STARTUP_SCRIPT, marker


def _run(line: str, marker: Path) -> subprocess.CompletedProcess[str]:
    # The script runs confined: no Python to patch with, homes inside the test's folder; its log
    # (the marker) shows that it ran.
    box = marker.parent
    return subprocess.run(
        ["bash", "-c", line],
        env={
            "PATH": "/usr/bin:/bin",
            "MSTICPY_PROVISION_LOG": str(marker),
            "MSTICPY_PROVISION_PYTHON": str(box / "no-python"),
            "MSTICPY_PROVISION_ANALYST_HOME": str(box / "home"),
            "MSTICPY_PROVISION_JUPYTER_ENV": str(box / "jupyter_env"),
            "MSTICPY_PROVISION_CONFIG": str(box / "msticpyconfig.yaml"),
            "MSTICPY_PROVISION_USER_FOLDER": str(box),
        },
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_the_terminal_line_runs_the_rendered_script(instance: tuple[str, Path, Path]) -> None:
    line, on_share, marker = instance
    _, r = contoso()
    on_share.write_bytes(r.user_files["bob"][STARTUP_SCRIPT].content)
    _run(line, marker)
    assert marker.exists()  # the startup script logged its run


def test_the_terminal_line_refuses_a_script_changed_on_the_share(
    instance: tuple[str, Path, Path],
) -> None:
    line, on_share, marker = instance
    _, r = contoso()
    on_share.write_bytes(r.user_files["bob"][STARTUP_SCRIPT].content + b"\ntouch /tmp/pwned\n")
    res = _run(line, marker)
    assert not marker.exists()
    assert "FAILED" in res.stdout + res.stderr  # sha256sum -c names the mismatch
