"""`compute_policy`: how an analyst's compute instance should be set up, in `defaults`, per tenant
and per user (`users[].compute_policy` is merged over the tenant's, which `load` has merged over
`defaults`; mappings merge key by key, anything else is replaced).

Each value is checked offline by Azure's own rules (`provision.compute_rules`, which cites them),
so a mistake is a FILE:LINE error from `validate`, not a failed create. The fields map onto the
ComputeInstance properties of the stable compute API the tool writes (2025-12-01):

| inventory            | ARM (properties.properties unless noted)                  |
| -------------------- | --------------------------------------------------------- |
| idle_shutdown        | idleTimeBeforeShutdown (ISO 8601, PT15M..P3D)             |
| schedules[]          | schedules.computeStartStop[] {action, triggerType: Cron,   |
|                      | cron: {expression, timeZone}, status: Enabled}             |
| vm_size              | vmSize                                                    |
| sso                  | enableSSO                                                 |
| identity             | identity (top level): SystemAssigned or UserAssigned      |
| kernel               | nothing in ARM: the startup script builds the environment |

`root_access` is refused: no stable compute API version carries `enableRootAccess` (it is in
preview versions only), so the tool could not apply it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from provision.compute_rules import MAX_SCHEDULES, cron_problem, duration_problem, time_zone_problem
from provision.inventory.fields import FrozenModel, control_character

__all__ = [
    "ComputePolicy",
    "Identity",
    "KernelPin",
    "Schedule",
    "kernel_pin_problems",
    "merge_policies",
]

# Azure VM size names: Standard_DS3_v2, Standard_E4ds_v4, Basic_A1 (letters, digits, '_').
_VM_SIZE_RE = re.compile(r"^[A-Za-z]+_[A-Za-z0-9_]{1,60}$")
_USER_IDENTITY_RE = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers/"
    r"Microsoft\.ManagedIdentity/userAssignedIdentities/[A-Za-z0-9][A-Za-z0-9_-]{2,127}$",
    re.IGNORECASE,
)


def _checked(check: Any, kind: str) -> Any:
    def run(value: str) -> str:
        problem = check(value)
        if problem:
            raise PydanticCustomError(kind, problem)
        return value

    return AfterValidator(run)


def _vm_size_problem(value: str) -> str | None:
    if _VM_SIZE_RE.fullmatch(value):
        return None
    return f"{value!r} is not an Azure VM size name (e.g. Standard_DS3_v2)"


def _number_is_not_a_duration(value: Any) -> Any:
    if type(value) in (int, float):
        raise PydanticCustomError(
            "idle_shutdown",
            f"{value} is not an ISO 8601 duration: write PT{value}M for {value} minutes",
        )
    return value


IdleShutdown = Annotated[
    str, BeforeValidator(_number_is_not_a_duration), _checked(duration_problem, "idle_shutdown")
]
CronExpression = Annotated[str, _checked(cron_problem, "cron")]
TimeZone = Annotated[str, _checked(time_zone_problem, "time_zone")]


class Schedule(FrozenModel):
    """One start or stop of the instance (a Cron-triggered ComputeStartStopSchedule)."""

    action: Literal["start", "stop"]
    cron: CronExpression
    time_zone: TimeZone = "UTC"

    def arm(self) -> dict[str, Any]:
        return {
            "action": self.action.capitalize(),
            "triggerType": "Cron",
            "cron": {"expression": self.cron, "timeZone": self.time_zone},
            "status": "Enabled",
        }


class Identity(FrozenModel):
    type: Literal["system_assigned", "user_assigned"]
    user_assigned_ids: list[str] = Field(default_factory=list)

    @field_validator("user_assigned_ids")
    @classmethod
    def _arm_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _USER_IDENTITY_RE.fullmatch(item):
                raise PydanticCustomError(
                    "identity",
                    f"{item!r} is not the ARM id of a user-assigned identity "
                    "(/subscriptions/<id>/resourceGroups/<rg>/providers/"
                    "Microsoft.ManagedIdentity/userAssignedIdentities/<name>)",
                )
        return value

    @model_validator(mode="after")
    def _ids_for_user_assigned(self) -> Identity:
        if self.type == "user_assigned" and not self.user_assigned_ids:
            raise PydanticCustomError("identity", "user_assigned needs user_assigned_ids")
        if self.type == "system_assigned" and self.user_assigned_ids:
            raise PydanticCustomError(
                "identity", "user_assigned_ids applies only to type user_assigned"
            )
        return self

    def arm(self) -> dict[str, Any]:
        if self.type == "system_assigned":
            return {"type": "SystemAssigned"}
        return {
            "type": "UserAssigned",
            "userAssignedIdentities": {key: {} for key in self.user_assigned_ids},
        }


def _requirement(value: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(value)
    except InvalidRequirement as exc:
        raise PydanticCustomError("kernel", f"not a pip requirement: {exc}") from None
    if req.name.lower() != "msticpy":
        raise PydanticCustomError("kernel", f"the kernel pins msticpy, not {req.name!r}")
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version or req.url:
        raise PydanticCustomError(
            "kernel",
            "pin one exact version (e.g. msticpy[azure]==3.0.2): the instance must run the "
            "version the config was checked against",
        )
    return value


def _wheelhouse(value: str) -> str:
    bad = control_character(value)
    if bad or not value.startswith("/") or "\x00" in value or len(value) > 1024:
        raise PydanticCustomError(
            "kernel",
            "wheelhouse must be an absolute folder on the instance (e.g. "
            "/home/azureuser/cloudfiles/code/Users/shared/wheels)",
        )
    return value


def _index_url(value: str) -> str:
    if not re.fullmatch(r"https://[^\s'\"\\]{1,1000}", value):
        raise PydanticCustomError("kernel", "index_url must be an https:// URL")
    return value


class KernelPin(FrozenModel):
    """A dedicated msticpy environment and kernelspec on the instance."""

    requirement: Annotated[str, AfterValidator(_requirement)]
    index_url: Annotated[str, AfterValidator(_index_url)] | None = None
    wheelhouse: Annotated[str, AfterValidator(_wheelhouse)] | None = None

    @property
    def version(self) -> str:
        from packaging.requirements import Requirement

        return next(iter(Requirement(self.requirement).specifier)).version


class ComputePolicy(FrozenModel):
    idle_shutdown: IdleShutdown | None = None
    schedules: Annotated[list[Schedule], Field(max_length=MAX_SCHEDULES)] | None = None
    vm_size: Annotated[str, _checked(_vm_size_problem, "vm_size")] | None = None
    sso: bool | None = None
    identity: Identity | None = None
    kernel: KernelPin | None = None
    root_access: Any = None  # refused: see the module docstring

    @field_validator("root_access")
    @classmethod
    def _not_in_stable_api(cls, value: Any) -> Any:
        raise PydanticCustomError(
            "root_access",
            "root_access is not supported: no stable Azure ML compute API version carries "
            "enableRootAccess (preview versions only); remove it",
        )

    @property
    def empty(self) -> bool:
        return not self.model_fields_set


def merge_policies(base: ComputePolicy | None, own: ComputePolicy | None) -> ComputePolicy:
    """`own` over `base`, key by key (mappings such as kernel and identity merge too)."""

    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            return {**a, **{k: merge(a[k], v) if k in a else v for k, v in b.items()}}
        return b

    lower = base.model_dump(exclude_unset=True) if base is not None else {}
    upper = own.model_dump(exclude_unset=True) if own is not None else {}
    return ComputePolicy.model_validate(merge(lower, upper))


def kernel_pin_problems(t: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """A kernel pinned (for the tenant or one user) below a msticpy the tenant's settings need:
    (location inside the tenant, message), one per pin and requirement."""
    from packaging.version import Version

    from provision.msticpy_contract.versions import minimum_versions

    needs = minimum_versions(t)
    if not needs:
        return []
    pins: list[tuple[tuple[str | int, ...], KernelPin]] = []
    if t.compute_policy.kernel is not None:
        pins.append((("compute_policy", "kernel", "requirement"), t.compute_policy.kernel))
    for i, user in enumerate(t.users):
        own = user.compute_policy.kernel if user.compute_policy is not None else None
        if own is not None:
            pins.append((("users", i, "compute_policy", "kernel", "requirement"), own))
    out = []
    for loc, pin in pins:
        for need in needs:
            if Version(pin.version) < Version(need.version):
                out.append(
                    (
                        loc,
                        f"msticpy {pin.version} is below {need.version}, which the rendered "
                        f"{need.setting} needs ({need.why}); pin {need.version} or later",
                    )
                )
    return out
