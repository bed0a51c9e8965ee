"""Analysts' read access to the tenant's vaults: the rules (`rules`), the ARM calls (`arm`) and
the check, plan items and grants (`check`)."""

from provision.access.check import (
    AccessOptions,
    AccessPlan,
    grant_access,
    plan_access,
    read_back_access,
)

__all__ = ["AccessOptions", "AccessPlan", "grant_access", "plan_access", "read_back_access"]
