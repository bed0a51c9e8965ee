"""ARM operations discovery reads around Microsoft Sentinel: Log Analytics workspaces listed by
subscription and by resource group, and a workspace's Sentinel onboarding state.

Shapes: azure-rest-api-specs Microsoft.OperationalInsights 2022-10-01 ``Workspaces.json``
(``Workspaces_List``, ``Workspaces_ListByResourceGroup``: ``{"value": [workspace, ...]}``, no
``nextLink``) and Microsoft.SecurityInsights 2024-09-01 ``OnboardingStates.json``
(``examples/onboardingStates/GetAllSentinelOnboardingStates.json`` and
``GetSentinelOnboardingState.json``): a workspace with Sentinel enabled has the one state
``default`` (``type`` ``Microsoft.SecurityInsights/onboardingStates``, ``properties.
customerManagedKey``); one without lists none, and its ``default`` is not found.
A seeded workspace is Sentinel-enabled unless seeded otherwise (``SeedLogAnalytics.sentinel``);
the marker is the resource's ``properties["sentinel"]``, never shown as such.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provision.emulator.arm.exceptions import ResourceNotFound
from provision.emulator.arm.shapes import json_response, named_body
from provision.emulator.wire import WireRequest, WireResponse

if TYPE_CHECKING:
    from provision.emulator.arm.models import ArmBackend, NamedResource

__all__ = ["SENTINEL_MARKER", "SentinelOperations"]

LAW_TYPE = "Microsoft.OperationalInsights/workspaces"
STATE_TYPE = "Microsoft.SecurityInsights/onboardingStates"
SENTINEL_MARKER = "sentinel"  # NamedResource.properties key: Sentinel is enabled on it


def law_body(res: NamedResource) -> dict[str, Any]:
    """A Log Analytics workspace as GET and the lists show it."""
    return named_body(
        res,
        LAW_TYPE,
        {
            "customerId": res.properties.get("customerId"),
            "provisioningState": "Succeeded",
            "sku": {"name": "PerGB2018"},
            "retentionInDays": 90,
            "publicNetworkAccessForIngestion": "Enabled",
            "publicNetworkAccessForQuery": "Enabled",
            "features": {"enableLogAccessUsingOnlyResourcePermissions": True},
        },
    )


def _state_body(res: NamedResource) -> dict[str, Any]:
    law_id = str(law_body(res)["id"])
    return {
        "id": f"{law_id}/providers/{STATE_TYPE}/default",
        "name": "default",
        "type": STATE_TYPE,
        "properties": {"customerManagedKey": False},
    }


class SentinelOperations:
    """Mixed into ArmWire: Log Analytics lists and Sentinel onboarding states."""

    arm: ArmBackend

    def _laws(self, sub: str, rg: str | None) -> list[NamedResource]:
        if rg is None:
            self.arm.check_subscription(sub)
        else:
            self.arm.resource_group(sub, rg)
        return [
            res
            for key, res in sorted(self.arm.log_analytics.items())
            if key[0] == sub.lower() and (rg is None or key[1] == rg.lower())
        ]

    def op_ListLogAnalyticsWorkspacesBySubscription(
        self, req: WireRequest, p: dict[str, str]
    ) -> WireResponse:
        return json_response(200, {"value": [law_body(r) for r in self._laws(p["sub"], None)]})

    def op_ListLogAnalyticsWorkspaces(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return json_response(200, {"value": [law_body(r) for r in self._laws(p["sub"], p["rg"])]})

    def op_ListSentinelOnboardingStates(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.log_analytics_workspace(p["sub"], p["rg"], p["name"])
        states = [_state_body(res)] if res.properties.get(SENTINEL_MARKER) else []
        return json_response(200, {"value": states})

    def op_GetSentinelOnboardingState(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.log_analytics_workspace(p["sub"], p["rg"], p["name"])
        if p["state"].lower() != "default" or not res.properties.get(SENTINEL_MARKER):
            rtype = f"{LAW_TYPE}/{res.name}/{STATE_TYPE}"
            raise ResourceNotFound(rtype, p["state"], res.resource_group)
        return json_response(200, _state_body(res))
