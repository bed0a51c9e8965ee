"""ARM routes below the emulator's ARM prefix (``/_arm``). ARM paths are case-insensitive."""

from __future__ import annotations

import re

from provision.emulator.arm.exceptions import ArmError
from provision.emulator.wire import MethodNotAllowed, match_route

__all__ = ["ACTIONS", "OPERATIONS", "resolve"]

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_ML = r"/providers/Microsoft\.MachineLearningServices"
_WS = _RG + _ML + r"/workspaces/(?P<ws>[^/]+)"

_AUTHZ = r"/providers/Microsoft\.Authorization"
_SCOPE = r"(?P<scope>/subscriptions/[^/]+(?:/.+?)?)"
_KV = _RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<name>[^/]+)"
_SA = _RG + r"/providers/Microsoft\.Storage/storageAccounts/(?P<name>[^/]+)"
_LA = r"/providers/Microsoft\.OperationalInsights"
_LAW = _RG + _LA + r"/workspaces/(?P<name>[^/]+)"
_SI = r"/providers/Microsoft\.SecurityInsights"

ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile("^" + pattern + "/?$", re.IGNORECASE), op)
    for method, pattern, op in (
        ("GET", r"/metadata/endpoints", "GetCloudMetadata"),
        ("GET", _SCOPE + _AUTHZ + r"/roleAssignments", "ListRoleAssignments"),
        (
            "GET",
            _SCOPE + _AUTHZ + r"/roleEligibilityScheduleInstances",
            "ListRoleEligibilityScheduleInstances",
        ),
        ("GET", _SCOPE + _AUTHZ + r"/roleAssignments/(?P<name>[^/]+)", "GetRoleAssignment"),
        ("PUT", _SCOPE + _AUTHZ + r"/roleAssignments/(?P<name>[^/]+)", "CreateRoleAssignment"),
        ("DELETE", _SCOPE + _AUTHZ + r"/roleAssignments/(?P<name>[^/]+)", "DeleteRoleAssignment"),
        (
            "GET",
            r"(?P<scope>(?:/subscriptions/.+?)?)" + _AUTHZ + r"/roleDefinitions",
            "ListRoleDefinitions",
        ),
        (
            "GET",
            r"(?P<scope>(?:/subscriptions/.+?)?)" + _AUTHZ + r"/roleDefinitions/(?P<role>[^/]+)",
            "GetRoleDefinition",
        ),
        ("GET", _SCOPE + _AUTHZ + r"/policyAssignments", "ListPolicyAssignments"),
        ("GET", _SCOPE + _AUTHZ + r"/policyAssignments/(?P<name>[^/]+)", "GetPolicyAssignment"),
        ("PUT", _SCOPE + _AUTHZ + r"/policyAssignments/(?P<name>[^/]+)", "CreatePolicyAssignment"),
        (
            "DELETE",
            _SCOPE + _AUTHZ + r"/policyAssignments/(?P<name>[^/]+)",
            "DeletePolicyAssignment",
        ),
        ("GET", _AUTHZ + r"/policyDefinitions/(?P<name>[^/]+)", "GetBuiltInPolicyDefinition"),
        (
            "PUT",
            _SUB + _AUTHZ + r"/policySetDefinitions/(?P<name>[^/]+)",
            "CreatePolicySetDefinition",
        ),
        ("GET", _SUB + _AUTHZ + r"/policySetDefinitions/(?P<name>[^/]+)", "GetPolicySetDefinition"),
        ("GET", _SCOPE + _AUTHZ + r"/policyExemptions", "ListPolicyExemptions"),
        ("PUT", _SCOPE + _AUTHZ + r"/policyExemptions/(?P<name>[^/]+)", "CreatePolicyExemption"),
        (
            "DELETE",
            _SCOPE + _AUTHZ + r"/policyExemptions/(?P<name>[^/]+)",
            "DeletePolicyExemption",
        ),
        ("GET", _WS + r"/datastores", "ListDatastores"),
        ("GET", _WS + r"/datastores/(?P<datastore>[^/]+)", "GetDatastore"),
        (
            "GET",
            _RG + r"/providers/Microsoft\.OperationalInsights/workspaces/(?P<name>[^/]+)",
            "GetLogAnalyticsWorkspace",
        ),
        ("GET", _SUB + _LA + r"/workspaces", "ListLogAnalyticsWorkspacesBySubscription"),
        ("GET", _RG + _LA + r"/workspaces", "ListLogAnalyticsWorkspaces"),
        ("GET", _LAW + _SI + r"/onboardingStates", "ListSentinelOnboardingStates"),
        (
            "GET",
            _LAW + _SI + r"/onboardingStates/(?P<state>[^/]+)",
            "GetSentinelOnboardingState",
        ),
        ("GET", _RG, "GetResourceGroup"),
        ("GET", _SUB + _ML + r"/workspaces", "ListWorkspacesBySubscription"),
        ("GET", _RG + _ML + r"/workspaces", "ListWorkspaces"),
        ("GET", _WS, "GetWorkspace"),
        ("POST", _WS + r"/listKeys", "ListWorkspaceKeys"),
        ("GET", _WS + r"/datastores/(?P<datastore>[^/]+)", "GetDatastore"),
        ("GET", _WS + r"/computes", "ListComputes"),
        ("GET", _WS + r"/computes/(?P<compute>[^/]+)", "GetCompute"),
        ("PUT", _WS + r"/computes/(?P<compute>[^/]+)", "CreateOrUpdateCompute"),
        ("DELETE", _WS + r"/computes/(?P<compute>[^/]+)", "DeleteCompute"),
        (
            "POST",
            _WS + r"/computes/(?P<compute>[^/]+)/updateIdleShutdownSetting",
            "UpdateIdleShutdownSetting",
        ),
        (
            "GET",
            _SUB + _ML + r"/locations/(?P<location>[^/]+)/computeOperationsStatus/"
            r"(?P<op>[^/]+)",
            "GetAsyncOperation",
        ),
        ("GET", _SA, "GetStorageAccount"),
        ("PATCH", _SA, "UpdateStorageAccount"),
        ("POST", _SA + r"/listKeys", "ListStorageAccountKeys"),
        ("GET", _KV, "GetVault"),
        ("PATCH", _KV, "UpdateVault"),
        ("PUT", _KV + r"/accessPolicies/(?P<kind>add|replace|remove)", "UpdateAccessPolicy"),
    )
)

OPERATIONS: tuple[str, ...] = tuple(dict.fromkeys(op for _, _, op in ROUTES))

# The RBAC action each operation needs, for AuthorizationFailed messages.
ACTIONS: dict[str, str] = {
    "GetResourceGroup": "Microsoft.Resources/subscriptions/resourceGroups/read",
    "ListWorkspacesBySubscription": "Microsoft.MachineLearningServices/workspaces/read",
    "ListWorkspaces": "Microsoft.MachineLearningServices/workspaces/read",
    "GetWorkspace": "Microsoft.MachineLearningServices/workspaces/read",
    "ListWorkspaceKeys": "Microsoft.MachineLearningServices/workspaces/listKeys/action",
    "ListComputes": "Microsoft.MachineLearningServices/workspaces/computes/read",
    "GetCompute": "Microsoft.MachineLearningServices/workspaces/computes/read",
    "CreateOrUpdateCompute": "Microsoft.MachineLearningServices/workspaces/computes/write",
    "DeleteCompute": "Microsoft.MachineLearningServices/workspaces/computes/delete",
    "UpdateIdleShutdownSetting": (
        "Microsoft.MachineLearningServices/workspaces/computes/updateIdleShutdownSetting/action"
    ),
    "GetAsyncOperation": "Microsoft.MachineLearningServices/locations/computeOperationsStatus/read",
    "GetStorageAccount": "Microsoft.Storage/storageAccounts/read",
    "ListStorageAccountKeys": "Microsoft.Storage/storageAccounts/listKeys/action",
    "GetVault": "Microsoft.KeyVault/vaults/read",
    "UpdateVault": "Microsoft.KeyVault/vaults/write",
    "UpdateAccessPolicy": "Microsoft.KeyVault/vaults/accessPolicies/write",
    "UpdateStorageAccount": "Microsoft.Storage/storageAccounts/write",
    "ListRoleAssignments": "Microsoft.Authorization/roleAssignments/read",
    "ListRoleEligibilityScheduleInstances": (
        "Microsoft.Authorization/roleEligibilityScheduleInstances/read"
    ),
    "GetRoleAssignment": "Microsoft.Authorization/roleAssignments/read",
    "CreateRoleAssignment": "Microsoft.Authorization/roleAssignments/write",
    "DeleteRoleAssignment": "Microsoft.Authorization/roleAssignments/delete",
    "ListRoleDefinitions": "Microsoft.Authorization/roleDefinitions/read",
    "GetRoleDefinition": "Microsoft.Authorization/roleDefinitions/read",
    "ListDatastores": "Microsoft.MachineLearningServices/workspaces/datastores/read",
    "GetDatastore": "Microsoft.MachineLearningServices/workspaces/datastores/read",
    "GetLogAnalyticsWorkspace": "Microsoft.OperationalInsights/workspaces/read",
    "ListPolicyAssignments": "Microsoft.Authorization/policyAssignments/read",
    "GetPolicyAssignment": "Microsoft.Authorization/policyAssignments/read",
    "CreatePolicyAssignment": "Microsoft.Authorization/policyAssignments/write",
    "DeletePolicyAssignment": "Microsoft.Authorization/policyAssignments/delete",
    "GetBuiltInPolicyDefinition": "Microsoft.Authorization/policyDefinitions/read",
    "CreatePolicySetDefinition": "Microsoft.Authorization/policySetDefinitions/write",
    "GetPolicySetDefinition": "Microsoft.Authorization/policySetDefinitions/read",
    "ListPolicyExemptions": "Microsoft.Authorization/policyExemptions/read",
    "CreatePolicyExemption": "Microsoft.Authorization/policyExemptions/write",
    "DeletePolicyExemption": "Microsoft.Authorization/policyExemptions/delete",
    "ListLogAnalyticsWorkspacesBySubscription": "Microsoft.OperationalInsights/workspaces/read",
    "ListLogAnalyticsWorkspaces": "Microsoft.OperationalInsights/workspaces/read",
    "ListSentinelOnboardingStates": "Microsoft.SecurityInsights/onboardingStates/read",
    "GetSentinelOnboardingState": "Microsoft.SecurityInsights/onboardingStates/read",
}


def resolve(method: str, path: str) -> tuple[str, dict[str, str]]:
    try:
        found = match_route(ROUTES, method, path)
    except MethodNotAllowed:
        raise ArmError(
            f"The requested method {method} is not supported on {path}.",
            status=405,
            code="MethodNotAllowed",
        ) from None
    if found is not None:
        return found
    raise ArmError(
        f"No HTTP resource was found that matches the request URI '{path}'.",
        status=404,
        code="InvalidResourceType",
    )
