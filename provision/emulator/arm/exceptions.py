"""ARM errors, rendered as ``{"error": {"code", "message"}}`` like Azure Resource Manager."""

from __future__ import annotations

from provision.emulator.wire import ServiceError

__all__ = [
    "ArmError",
    "AuthenticationFailed",
    "AuthorizationFailed",
    "InvalidAuthenticationToken",
    "MissingApiVersionParameter",
    "ResourceGroupNotFound",
    "ResourceNotFound",
    "SubscriptionNotFound",
    "ValidationError",
]


class ArmError(ServiceError):
    pass


class AuthenticationFailed(ArmError):
    status, code = 401, "AuthenticationFailed"


class InvalidAuthenticationToken(ArmError):
    status, code = 401, "InvalidAuthenticationToken"


class AuthorizationFailed(ArmError):
    status, code = 403, "AuthorizationFailed"


class SubscriptionNotFound(ArmError):
    status, code = 404, "SubscriptionNotFound"

    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"The subscription '{subscription_id}' could not be found.")


class ResourceGroupNotFound(ArmError):
    status, code = 404, "ResourceGroupNotFound"

    def __init__(self, resource_group: str) -> None:
        super().__init__(f"Resource group '{resource_group}' could not be found.")


class ResourceNotFound(ArmError):
    status, code = 404, "ResourceNotFound"

    def __init__(self, resource_type: str, name: str, resource_group: str) -> None:
        super().__init__(
            f"The Resource '{resource_type}/{name}' under resource group "
            f"'{resource_group}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix"
        )


class MissingApiVersionParameter(ArmError):
    status, code = 400, "MissingApiVersionParameter"

    def __init__(self) -> None:
        super().__init__(
            "The api-version query parameter (?api-version=) is required for all requests."
        )


class ValidationError(ArmError):
    status, code = 400, "ValidationError"
