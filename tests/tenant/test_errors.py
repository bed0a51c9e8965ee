"""One family of errors; a tenant's unexpected failure keeps its message, never a secret."""

from __future__ import annotations

from pathlib import Path

from provision.engine import masked
from provision.errors import (
    AzureOperationError,
    LockHeld,
    OperationFailed,
    ProvisionError,
    TenantError,
    describe_exception,
)
from provision.inventory.load import load_inventory
from provision.secrets import SecretValue
from provision.workspace import explain_azure_error


def test_the_hierarchy_is_one_family() -> None:
    for cls in (TenantError, LockHeld, OperationFailed, AzureOperationError):
        assert issubclass(cls, ProvisionError)
    assert issubclass(LockHeld, TenantError) and issubclass(OperationFailed, TenantError)


def test_an_unexpected_exception_keeps_its_message(fleet: Path) -> None:
    example_tenant = load_inventory(fleet).tenants[0]
    # Before: "tenant fabrikam: ModuleNotFoundError" with the module's name lost.
    exc = ModuleNotFoundError("No module named 'azure.core.rest'")
    line = explain_azure_error(exc, example_tenant, "tenant fabrikam", "check roles")
    assert line == "tenant fabrikam: ModuleNotFoundError: No module named 'azure.core.rest'"
    assert describe_exception(RuntimeError("x" * 1000)).endswith("...")
    assert len(describe_exception(RuntimeError("x" * 1000))) < 330


def test_a_secret_value_in_an_error_line_is_masked() -> None:
    values = {"env:VT": SecretValue("vt-key-0123456789")}
    assert masked("refused vt-key-0123456789 at /x", values) == "refused *** at /x"
