"""Plan's Sentinel workspace check: ARM's answer for each workspace, judged against the inventory.

The read goes through a real azure-core PipelineClient to a local responder that answers with
ARM's shapes: 200 with `properties.customerId` (azure-rest-api-specs, operationalinsights
stable/2022-10-01, examples/WorkspacesSubscriptionList.json), 404 `ResourceNotFound` /
`ResourceGroupNotFound` and 403 `AuthorizationFailed` with ARM's `{"error": {"code", "message"}}`
body (Microsoft Learn, "Resolve errors for resource not found" and "... authorization failed").
The same check against the emulator's Microsoft.OperationalInsights workspaces, and its wiring
into plan, belong to the integration tests of the emulator and the engine.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from support import EXAMPLE

from provision.inventory.load import load_inventory
from provision.inventory.model import Inventory
from provision.sentinel_check import (
    LOG_ANALYTICS_API_VERSION,
    check_sentinel_workspaces,
    log_analytics_path,
)


class _Arm(http.server.BaseHTTPRequestHandler):
    """Answers GET <path>?api-version=... from `answers` (path -> (status, body))."""

    answers: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        _Arm.paths.append(self.path)
        assert query == f"api-version={LOG_ANALYTICS_API_VERSION}"
        status, body = _Arm.answers.get(path, (404, _error("ResourceNotFound")))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{code} (test)"}}


def _workspace(customer_id: str) -> dict[str, Any]:
    return {
        "properties": {"customerId": customer_id, "provisioningState": "Succeeded"},
        "type": "Microsoft.OperationalInsights/workspaces",
    }


@pytest.fixture
def arm() -> Iterator[Any]:
    from azure.core import PipelineClient

    _Arm.answers, _Arm.paths = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Arm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield PipelineClient(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(EXAMPLE)


def _serve_all(inv: Inventory) -> None:
    for t in inv.tenants:
        for ws in t.sentinel:
            _Arm.answers[log_analytics_path(t, ws)] = (200, _workspace(ws.workspace_id.upper()))


def test_workspaces_where_the_inventory_says_pass(arm: Any, inv: Inventory) -> None:
    _serve_all(inv)
    contoso = inv.tenants[0]
    assert check_sentinel_workspaces(arm, contoso, inv) == []
    # each workspace read at its own coordinates, not the ML workspace's
    assert [p.split("?")[0] for p in _Arm.paths] == [
        f"/subscriptions/{contoso.subscription_id}/resourceGroups/rg-contoso-sentinel"
        "/providers/Microsoft.OperationalInsights/workspaces/law-contoso-prod",
        "/subscriptions/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a/resourceGroups/rg-contoso-dev"
        "/providers/Microsoft.OperationalInsights/workspaces/law-contoso-dev",
    ]


def test_other_customer_id_names_the_workspace_id_line(arm: Any, inv: Inventory) -> None:
    _serve_all(inv)
    contoso = inv.tenants[0]
    dev = contoso.sentinel[1]
    other = "00000000-1111-4222-8333-444444444444"
    _Arm.answers[log_analytics_path(contoso, dev)] = (200, _workspace(other))
    [problem] = check_sentinel_workspaces(arm, contoso, inv)
    line = next(
        i for i, t in enumerate(EXAMPLE.read_text().splitlines(), 1) if dev.workspace_id in t
    )
    assert (problem.file, problem.line) == (str(EXAMPLE), line)
    assert problem.path == "tenants[0].sentinel[1].workspace_id"
    assert f"its customerId is {other}" in problem.message and "ContosoDev" in problem.message


@pytest.mark.parametrize(
    "status, code, where, expected",
    [
        (404, "ResourceNotFound", ".workspace_name", "no Log Analytics workspace 'law-fabrikam'"),
        # fabrikam's entry sets no resource_group / subscription_id: the entry's line
        (404, "ResourceGroupNotFound", "", "does not exist"),
        (403, "AuthorizationFailed", "", "grant Reader"),
        (401, "InvalidAuthenticationTokenTenant", "", "is not in tenant"),
        (500, "InternalServerError", "", "HTTP 500 InternalServerError"),
    ],
)
def test_arm_errors_become_one_line_for_that_tenant(
    arm: Any, inv: Inventory, status: int, code: str, where: str, expected: str
) -> None:
    fabrikam = inv.tenants[1]
    _Arm.answers[log_analytics_path(fabrikam, fabrikam.sentinel[0])] = (status, _error(code))
    [problem] = check_sentinel_workspaces(arm, fabrikam, inv)
    assert expected in problem.message and "\n" not in problem.message
    assert problem.message.startswith("tenant fabrikam: Sentinel workspace Fabrikam: ")
    assert problem.path == f"tenants[1].sentinel[0]{where}"
    key: tuple[str | int, ...] = ("tenants", 1, "sentinel", 0, *([where[1:]] if where else []))
    assert problem.line == inv.lines[key]


def test_without_the_inventory_problems_still_say_what_is_wrong(arm: Any, inv: Inventory) -> None:
    [problem] = check_sentinel_workspaces(arm, inv.tenants[1])
    assert problem.file is None and "no Log Analytics workspace" in str(problem)
