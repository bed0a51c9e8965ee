"""Fault injection: throttling, server errors, dropped connections and latency, repeatable by seed.

SPEC is a comma-separated list of rules; each rule is ``SERVICE:OPERATION=EFFECT``::

    SERVICE    arm | keyvault | files | *
    OPERATION  an operation name as logged in requests.jsonl (SetSecret, PutRange,
               GetWorkspace, ...) or * for every operation of the service
    EFFECT     429@P          answer HTTP 429 with Retry-After: 1, with probability P (0..1)
               429(S)@P       the same with Retry-After: S seconds (S may be 0)
               500@P | 503@P  answer HTTP 500 / 503 in the service's error format
               reset@P        drop the connection before any response is sent
               latency@MS     add MS milliseconds to every matching request
               jitter@MS      add a uniformly random 0..MS milliseconds

Example: ``keyvault:SetSecret=503@0.2,files:*=reset@0.05,*:*=429(0)@0.1,*:*=jitter@20``.

Latency rules add up (together with ``--latency-ms``) and apply to failed answers too. Failure
rules are tried in the order written, each with its own draw; the first one that fires decides
the answer. Every request is still logged in requests.jsonl: an injected failure with its status
(0 for a reset) and ``"fault"`` naming the effect. The random draws come from one stream per
(service, operation), seeded by ``--fault-seed``, so a given seed gives each operation the same
sequence of faults however requests to other operations interleave with it.

Mind the clients' retry policies: azure-core retries 429 (honouring Retry-After), 500 and 503,
and dropped connections except on POST and PATCH, three times by default (``retry_total``,
``retry_status``). The storage SDK
uses its own policy: it retries 500 and 503 (Azure Files throttles with 503 ServerBusy) but not
429, and waits 15 s before its first retry unless given another ``retry_policy``.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from dataclasses import dataclass

from provision.errors import UserInputError

__all__ = ["FaultDecision", "FaultInjector", "FaultRule", "parse_fault_spec"]

SERVICES = ("arm", "keyvault", "files")
FAILURE_KINDS = ("429", "500", "503", "reset")
LATENCY_KINDS = ("latency", "jitter")
DEFAULT_RETRY_AFTER = 1.0

_RULE_RE = re.compile(
    r"^(?P<service>[A-Za-z*]+):(?P<op>[A-Za-z*]+)="
    r"(?P<kind>[A-Za-z0-9]+)(?:\((?P<arg>[^)]*)\))?@(?P<value>[^@]+)$"
)


@dataclass(frozen=True)
class FaultRule:
    """One parsed rule of a fault SPEC."""

    service: str  # "arm" | "keyvault" | "files" | "*"
    operation: str  # operation name or "*"
    kind: str  # "429" | "500" | "503" | "reset" | "latency" | "jitter"
    value: float  # probability for failures, milliseconds for latency and jitter
    retry_after: float = DEFAULT_RETRY_AFTER  # seconds, for 429

    def matches(self, service: str, operation: str) -> bool:
        return (self.service in ("*", service)) and (self.operation in ("*", operation))


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait this long, then answer normally or fail."""

    delay_s: float
    failure: FaultRule | None


def _known_operations() -> dict[str, frozenset[str]]:
    from provision.emulator.arm.urls import OPERATIONS as ARM_OPS
    from provision.emulator.files.urls import OPERATIONS as FILES_OPS
    from provision.emulator.keyvault.urls import OPERATIONS as KV_OPS

    return {"arm": frozenset(ARM_OPS), "keyvault": frozenset(KV_OPS), "files": frozenset(FILES_OPS)}


def parse_fault_spec(spec: str | None) -> list[FaultRule]:
    """Parse a fault SPEC; raise UserInputError listing every bad rule, one line each."""
    if spec is None or not spec.strip():
        return []
    known = _known_operations()
    rules: list[FaultRule] = []
    problems: list[str] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            rules.append(_parse_rule(item, known))
        except ValueError as exc:
            problems.append(f"--faults: {item!r}: {exc}")
    if problems:
        raise UserInputError(problems)
    return rules


def _parse_rule(item: str, known: dict[str, frozenset[str]]) -> FaultRule:
    match = _RULE_RE.match(item)
    if not match:
        raise ValueError(
            "expected SERVICE:OPERATION=EFFECT@VALUE, "
            "e.g. keyvault:SetSecret=503@0.2 or *:*=jitter@20"
        )
    service, op = match["service"], match["op"]
    kind, arg, value_text = match["kind"].lower(), match["arg"], match["value"].strip()
    if service != "*" and service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)} or *")
    if op != "*":
        services = SERVICES if service == "*" else (service,)
        if not any(op in known[s] for s in services):
            names = sorted(set().union(*(known[s] for s in services)))
            raise ValueError(f"unknown operation {op!r}; expected * or one of {', '.join(names)}")
    if kind not in FAILURE_KINDS + LATENCY_KINDS:
        raise ValueError(
            f"unknown effect {kind!r}; expected one of {', '.join(FAILURE_KINDS + LATENCY_KINDS)}"
        )
    if arg is not None and kind != "429":
        raise ValueError(f"only 429 takes a (Retry-After seconds) argument, not {kind}")
    try:
        value = float(value_text)
    except ValueError:
        raise ValueError(f"{value_text!r} is not a number") from None
    retry_after = DEFAULT_RETRY_AFTER
    if kind in FAILURE_KINDS:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"probability {value_text} is outside 0..1")
        if arg is not None:
            try:
                retry_after = float(arg)
            except ValueError:
                raise ValueError(f"Retry-After {arg!r} is not a number of seconds") from None
            if retry_after < 0:
                raise ValueError(f"Retry-After {arg!r} is negative")
    elif value < 0:
        raise ValueError(f"{kind} of {value_text} ms is negative")
    return FaultRule(service=service, operation=op, kind=kind, value=value, retry_after=retry_after)


class FaultInjector:
    """Decides, per request, the added latency and whether to inject a failure."""

    def __init__(self, spec: str | None = None, seed: int = 0, latency_ms: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rules: tuple[FaultRule, ...] = tuple(parse_fault_spec(spec))
        self._latency_s = max(0.0, latency_ms) / 1000.0
        self._streams: dict[tuple[str, str], random.Random] = {}

    def set_spec(self, spec: str | None) -> None:
        rules = tuple(parse_fault_spec(spec))
        with self._lock:
            self._rules = rules
            self._streams.clear()

    def set_latency(self, ms: float) -> None:
        if ms < 0:
            raise UserInputError([f"--latency-ms: {ms} is negative"])
        self._latency_s = ms / 1000.0

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    def _stream(self, service: str, operation: str) -> random.Random:
        key = (service, operation)
        stream = self._streams.get(key)
        if stream is None:
            digest = hashlib.sha256(f"{self._seed}\0{service}\0{operation}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 (not crypto)
            self._streams[key] = stream
        return stream

    def decide(self, service: str, operation: str) -> FaultDecision:
        rules = self._rules
        delay = self._latency_s
        if not rules:
            return FaultDecision(delay, None)
        failure: FaultRule | None = None
        with self._lock:
            stream = self._stream(service, operation)
            for rule in rules:
                if not rule.matches(service, operation):
                    continue
                if rule.kind == "latency":
                    delay += rule.value / 1000.0
                elif rule.kind == "jitter":
                    delay += stream.uniform(0.0, rule.value) / 1000.0
                elif failure is None and stream.random() < rule.value:
                    failure = rule
        return FaultDecision(delay, failure)
