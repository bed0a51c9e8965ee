"""Waiting on ARM's long-running operations in one place (provision.lro).

ARM's asynchronous operation contract (Resource Provider Contract, async-api-reference.md in
Azure/azure-resource-manager-rpc): a status other than Succeeded, Failed or Canceled means still
running; a Location URL answers 202 until the operation ends. The success path against the
emulator is covered by create-compute and offboarding (tests/compute, tests/lifecycle); these
pin the terminal states and the timeout on answers shaped as ARM sends them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from provision import lro
from provision.errors import OperationFailed


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content(self) -> bytes:
        return json.dumps(self.body).encode() if self.body is not None else b""

    def json(self) -> Any:
        return self.body

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


def sender(answers: list[Answer]) -> Any:
    sent: list[tuple[str, str]] = []

    def send(method: str, url: str) -> Answer:
        sent.append((method, url))
        return answers.pop(0)

    send.sent = sent  # type: ignore[attr-defined]
    return send


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lro.time, "sleep", lambda s: None)


ASYNC = {"Azure-AsyncOperation": "https://arm/op/1", "Retry-After": "1"}


def test_any_status_but_a_terminal_one_is_still_running() -> None:
    send = sender(
        [Answer(200, {"status": s}) for s in ("InProgress", "Creating", "Deleting", "Succeeded")]
    )
    assert lro.wait_for_operation(send, Answer(201, {}, ASYNC), "creating x") == "Succeeded"
    assert send.sent == [("GET", "https://arm/op/1")] * 4


def test_a_failed_operation_names_what_and_how_it_ended() -> None:
    send = sender([Answer(200, {"status": "Failed"})])
    with pytest.raises(OperationFailed, match="deleting compute ci-1: ended Failed"):
        lro.wait_for_operation(send, Answer(202, None, ASYNC), "deleting compute ci-1")


def test_a_location_url_answers_202_until_done_and_404_means_gone() -> None:
    loc = {"Location": "https://arm/loc/1"}
    send = sender([Answer(202), Answer(200)])
    assert lro.wait_for_operation(send, Answer(202, None, loc), "x") == "Succeeded"
    assert lro.wait_for_operation(sender([Answer(404)]), Answer(202, None, loc), "x") == "Deleted"


def test_a_put_without_an_operation_polls_the_resource_state() -> None:
    send = sender([Answer(200, {"properties": {"provisioningState": "Succeeded"}})])
    first = Answer(201, {"properties": {"provisioningState": "Creating"}})
    assert lro.wait_for_operation(send, first, "x", resource_url="https://arm/c") == "Succeeded"
    assert send.sent == [("GET", "https://arm/c")]


def test_an_operation_still_running_after_the_timeout_fails_in_one_line() -> None:
    send = sender([Answer(200, {"status": "InProgress"})] * 5)
    with pytest.raises(OperationFailed, match="creating ci-2: still InProgress after 0 minutes"):
        lro.wait_for_operation(send, Answer(201, {}, ASYNC), "creating ci-2", timeout=0.0)
