"""compute_policy: defaults, tenant and user merge in that order, and `validate` refuses a bad
value at its FILE:LINE (the rules themselves are pinned in tests/compute/test_compute_rules.py)."""

from __future__ import annotations

from pathlib import Path

from support import EXAMPLE, run_invoke

from provision.inventory.load import load_inventory

BASE = (Path(__file__).parent / "broken" / "alias_empty.yaml").read_text().splitlines()[1:16]


def _inventory(tmp_path: Path, defaults: str, tenant: str, users: str) -> Path:
    text = "\n".join(["version: 1", "defaults:", defaults, *BASE, tenant, users, ""])
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def test_user_policy_merges_over_the_tenant_which_merges_over_defaults(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "  compute_policy: {idle_shutdown: PT60M, vm_size: Standard_DS3_v2, "
        "kernel: {requirement: 'msticpy[azure]==3.0.2', wheelhouse: /opt/wheels}}",
        "    compute_policy:\n      sso: false\n      schedules:\n"
        "        - {action: stop, cron: '0 19 * * 1-5', time_zone: W. Europe Standard Time}",
        "    users:\n      - alice\n      - alias: bob\n        compute_policy:\n"
        "          idle_shutdown: PT2H\n          kernel: {requirement: 'msticpy==3.0.1'}",
    )
    t = load_inventory(path).tenants[0]
    alice, bob = (t.policy_for(u) for u in t.user_list)
    assert alice.idle_shutdown == "PT60M" and alice.sso is False
    assert alice.vm_size == "Standard_DS3_v2"
    assert alice.schedules is not None and alice.schedules[0].time_zone == "W. Europe Standard Time"
    assert alice.kernel is not None and alice.kernel.version == "3.0.2"
    assert bob.idle_shutdown == "PT2H" and bob.sso is False
    # kernel merges key by key: bob's requirement, the defaults' wheelhouse
    assert bob.kernel is not None and bob.kernel.requirement == "msticpy==3.0.1"
    assert bob.kernel.wheelhouse == "/opt/wheels"


def test_validate_names_file_line_and_field_of_each_bad_value(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "  compute_policy:\n    idle_shutdown: PT5M",
        "    compute_policy:\n      schedules:\n"
        "        - {action: stop, cron: '0 18 * * 8'}\n"
        "        - {action: start, cron: '0 7 * * 1', time_zone: CET}",
        "    users: [alice]",
    )
    res = run_invoke("validate", "-i", str(path))
    assert res.returncode != 0
    lines = res.stderr.splitlines()
    assert "Traceback" not in res.stderr
    expected = {
        4: "defaults.compute_policy.idle_shutdown: PT5M is outside Azure's bounds",
        22: "tenants[0].compute_policy.schedules[0].cron: cron '0 18 * * 8'",
        23: "tenants[0].compute_policy.schedules[1].time_zone: 'CET' is not a Windows time zone",
    }
    for line, text in expected.items():
        assert any(ln.startswith(f"error: {path}:{line}: ") and text in ln for ln in lines), lines


def test_validate_refuses_a_pin_below_the_msticpy_the_settings_need(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "  cloud: global",
        "    azure_auth_methods: [cli]\n    users:\n      - alias: alice\n"
        "        compute_policy:\n          kernel: {requirement: 'msticpy[azure]==2.15.0'}",
        "",
    )
    res = run_invoke("validate", "-i", str(path))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    want = "tenants[0].users[0].compute_policy.kernel.requirement: msticpy 2.15.0 is below 2.16.2"
    assert any(
        ln.startswith(f"error: {path}:23: ") and want in ln for ln in res.stderr.splitlines()
    ), res.stderr


def test_a_pin_at_or_above_every_needed_version_is_valid(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        "  compute_policy: {kernel: {requirement: 'msticpy[azure]==2.16.2'}}",
        "    azure_auth_methods: [cli]",
        "    users: [alice]",
    )
    assert load_inventory(path).tenants[0].compute_policy.kernel is not None


def test_the_example_inventory_sets_a_policy_and_pins_no_kernel() -> None:
    # The offline quick start stays offline: nothing for the instance to download.
    for t in load_inventory(EXAMPLE).tenants:
        for u in t.user_list:
            policy = t.policy_for(u)
            assert policy.kernel is None
        assert t.compute_policy.idle_shutdown is not None
