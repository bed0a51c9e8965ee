"""How an instance, as ARM reports it, is judged against a compute policy (pure)."""

from __future__ import annotations

from provision.compute import policy_differences
from provision.inventory.compute_policy import ComputePolicy
from provision.workspace import ComputeInfo

POLICY = ComputePolicy.model_validate(
    {
        "idle_shutdown": "PT1H",
        "schedules": [
            {"action": "stop", "cron": "0 19 * * 1-5", "time_zone": "UTC"},
            {"action": "start", "cron": "30 7 * * 1-5"},
        ],
        "vm_size": "Standard_DS3_v2",
        "sso": True,
        "identity": {"type": "system_assigned"},
    }
)


def _instance(**over: object) -> ComputeInfo:
    base: dict[str, object] = {
        "name": "ci",
        "state": "Running",
        "assigned_object_id": None,
        "startup_script": None,
        "vm_size": "STANDARD_DS3_V2",
        "idle_time_before_shutdown": "PT60M",
        "schedules": (
            ("Start", "Cron", "30 7 * * 1-5", "UTC", "Enabled"),
            ("Stop", "Cron", "0  19 * * 1-5", "UTC", "Enabled"),
        ),
        "enable_sso": True,
        "identity_type": "SystemAssigned",
    }
    base.update(over)
    return ComputeInfo(**base)  # type: ignore[arg-type]


def test_an_instance_as_the_policy_says_has_no_differences() -> None:
    # PT60M is PT1H; schedule order, spacing and the size's case do not matter
    assert policy_differences(_instance(), POLICY) == []


def test_each_difference_names_its_field_and_who_can_fix_it() -> None:
    found = policy_differences(
        _instance(
            idle_time_before_shutdown=None,
            schedules=(),
            vm_size="Standard_E4ds_v4",
            enable_sso=False,
            identity_type=None,
        ),
        POLICY,
    )
    assert [(d["field"], d["actual"], d["fix"]) for d in found] == [
        ("idle_shutdown", "off", "update"),
        ("schedules", "none", "recreate"),
        ("vm_size", "Standard_E4ds_v4", "recreate"),
        ("sso", "off", "analyst"),
        ("identity", "none", "recreate"),
    ]
    assert found[0]["desired"] == "PT60M"


def test_fields_the_policy_leaves_out_are_not_compared() -> None:
    assert policy_differences(_instance(vm_size="x", schedules=()), ComputePolicy()) == []
