"""Waiting on Azure Resource Manager's long-running operations, in one place.

ARM's asynchronous operations (the Resource Provider Contract, "Asynchronous operations"; the
compute PUT and DELETE in azure-rest-api-specs machinelearningservices stable/2024-04-01 answer
201/202 with `Azure-AsyncOperation` and/or `Location`):

- with `Azure-AsyncOperation`, GET it until its `status` is terminal: `Succeeded`, `Failed` or
  `Canceled`; every other value (`InProgress`, `Creating`, `Deleting`, ...) means still running;
- with only `Location`, GET it: 202 means still running, 200/204 means done (404: gone, which for
  a delete is done);
- a PUT answered without either header reports `provisioningState` in the resource itself: GET
  the resource until it is terminal.

`Retry-After` sets the pause (capped), and the wait ends with `OperationFailed` after
`timeout` seconds: the message names what was being waited for and its last state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from provision.errors import OperationFailed

LRO_TIMEOUT_S = 30 * 60.0
MAX_PAUSE_S = 30.0
DEFAULT_PAUSE_S = 5.0
TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}


def _pause(resp: Any) -> float:
    try:
        return min(float(resp.headers.get("Retry-After") or DEFAULT_PAUSE_S), MAX_PAUSE_S)
    except ValueError:
        return DEFAULT_PAUSE_S


def _state(resp: Any, key: str) -> str:
    body = resp.json() if resp.content else {}
    if key == "provisioningState":
        body = (body or {}).get("properties") or {}
    return str((body or {}).get(key) or "Succeeded")


def wait_for_operation(
    send: Callable[[str, str], Any],
    first: Any,
    what: str,
    *,
    resource_url: str | None = None,
    timeout: float = LRO_TIMEOUT_S,
    progress: Callable[[str, float], None] | None = None,
) -> str:
    """Wait until the operation `first` (the initial response) started has ended.

    `send(method, url)` sends one request through the client's pipeline (credential, retries)
    and returns its response; `resource_url` is the resource a PUT made, polled when the answer
    names no operation. Returns the terminal state (`Succeeded`, or `Deleted` for a resource
    gone); raises OperationFailed for `Failed`/`Canceled` or after `timeout` seconds.
    """
    first.raise_for_status()
    operation = first.headers.get("Azure-AsyncOperation")
    location = first.headers.get("Location")
    if operation:
        url, key = operation, "status"
    elif location:
        url, key = location, ""
    elif resource_url and first.status_code in {200, 201}:
        url, key = resource_url, "provisioningState"
    else:
        return "Succeeded"
    resp = first
    state = _state(first, key) if key == "provisioningState" else "InProgress"
    started = time.monotonic()
    while state.lower() not in TERMINAL:
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise OperationFailed(f"{what}: still {state} after {timeout / 60:.0f} minutes")
        if progress is not None:
            progress(state, elapsed)
        time.sleep(_pause(resp))
        resp = send("GET", url)
        if resp.status_code == 404:
            return "Deleted"
        resp.raise_for_status()
        if not key:  # a Location URL answers 202 until the operation ends
            state = "InProgress" if resp.status_code == 202 else "Succeeded"
        else:
            state = _state(resp, key)
    if state.lower() != "succeeded":
        raise OperationFailed(f"{what}: ended {state}")
    return "Succeeded"


def arm_sender(ml: Any) -> Callable[[str, str], Any]:
    """`send(method, url)` through an ARM management client's own pipeline."""
    from azure.core.rest import HttpRequest

    def send(method: str, url: str) -> Any:
        return ml._send_request(HttpRequest(method, url))

    return send
