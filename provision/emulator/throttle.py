"""An opt-in model of Azure's request limits: token buckets that answer 429 as Azure does.

Off unless the emulator is given a SPEC (``msticpy-provision emulator --throttle SPEC``). SPEC is
a comma-separated list of items::

    azure              every bucket at Azure's documented size (the same as any other SPEC:
                       the items below only change it)
    scale=F            multiply every bucket's burst (keeping at least 1) and refill rate by
                       F (0 < F), so that a small fleet meets the limits in seconds:
                       scale=0.02 gives ARM reads 5/0.5
    BUCKET=BURST/RATE  one bucket's burst (tokens) and refill rate (tokens per second)

Example: ``azure,scale=0.05`` or ``arm-reads=20/2,keyvault=40/4``.

The buckets (sources: MicrosoftDocs/azure-docs, articles/azure-resource-manager/management/
request-limits-and-throttling.md, "Regional throttling and token bucket algorithm";
articles/storage/common/scalability-targets-resource-provider.md; articles/key-vault/general/
service-limits.md):

========================  ===========  ==========================================================
bucket                    burst / s    kept per
========================  ===========  ==========================================================
arm-reads                 250 / 25     subscription, principal (GET, HEAD)
arm-writes                200 / 10     subscription, principal (PUT, PATCH, POST)
arm-deletes               200 / 10     subscription, principal (DELETE)
storage-rp-reads          800 / 2.67   subscription: Microsoft.Storage reads and listKeys
                                       ("800 per 5 minutes", modelled as a bucket refilled at
                                       800/300 s)
storage-rp-writes         10 / 10      subscription: Microsoft.Storage writes ("10 per second")
storage-rp-writes-hourly  1200 / 0.33  subscription: the same writes ("1200 per hour")
keyvault                  4000 / 400   vault: every transaction but a secret's creation
                                       ("4,000 per 10 seconds")
keyvault-create           300 / 30     vault: SetSecret ("CREATE secret: 300 per 10 seconds")
========================  ===========  ==========================================================

ARM counts a request against its Resource Manager bucket first and, for Microsoft.Storage, the
storage resource provider's too; a request is admitted only when every bucket it counts against
holds a token, and a refused request takes none (Key Vault: "Failed requests that return a 429
do not count towards the throttle limits"). ARM requests outside a subscription (tenant level)
and Azure Files are not throttled: the files data plane's documented targets (articles/storage/
files/storage-files-scale-targets.md: 1,000 requests per second or more per standard share,
20,000 per account) are far above what one tenant's onboarding sends, and Azure Files answers an
excess with 503 ServerBusy, which the storage SDK retries.

How each service refuses (status, code, headers) is in `_refusal`; the modelled differences from
Azure: one region, no subscription-wide Key Vault limit (five times a vault's) and no global
subscription limit across principals (15 times a principal's), which a fleet with one identity
per subscription never reaches first.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from provision.emulator.arm.exceptions import ArmError
from provision.emulator.keyvault.exceptions import KeyVaultError
from provision.emulator.wire import ServiceError
from provision.errors import UserInputError, did_you_mean

__all__ = ["AZURE_BUCKETS", "Admission", "BucketSize", "Throttle", "TokenBucket", "parse_throttle"]


@dataclass(frozen=True)
class BucketSize:
    """A bucket's burst (tokens it holds when full) and refill rate (tokens per second)."""

    burst: float
    rate: float


AZURE_BUCKETS: dict[str, BucketSize] = {
    "arm-reads": BucketSize(250, 25),
    "arm-writes": BucketSize(200, 10),
    "arm-deletes": BucketSize(200, 10),
    "storage-rp-reads": BucketSize(800, 800 / 300),
    "storage-rp-writes": BucketSize(10, 10),
    "storage-rp-writes-hourly": BucketSize(1200, 1200 / 3600),
    "keyvault": BucketSize(4000, 400),
    "keyvault-create": BucketSize(300, 30),
}

# Microsoft.Storage operations of the emulated ARM, by the storage resource provider's kind.
# listKeys is a read there: callers that only fetch keys are refused with
# "Read_ObservationWindow_00:05:00" (microsoft/onefuzz#2100, velero-io/velero#4282).
_STORAGE_RP = {
    "GetStorageAccount": ("storage-rp-reads",),
    "ListStorageAccountKeys": ("storage-rp-reads",),
    "UpdateStorageAccount": ("storage-rp-writes", "storage-rp-writes-hourly"),
}
_ARM_KIND = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}  # anything else: writes
_SUBSCRIPTION_RE = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)


class TokenBucket:
    """Azure's token bucket: full at `burst`, refilled continuously at `rate` per second."""

    def __init__(self, size: BucketSize, now: float) -> None:
        self.size = size
        self.tokens = float(size.burst)
        self._at = now

    def refill(self, now: float) -> None:
        if now > self._at:
            self.tokens = min(
                float(self.size.burst), self.tokens + (now - self._at) * self.size.rate
            )
        self._at = max(self._at, now)

    def wait_s(self) -> float:
        """Seconds until the bucket holds a whole token again (0 when it does)."""
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.size.rate


@dataclass(frozen=True)
class Admission:
    """The model's verdict on one request: refused with `error`, or admitted with `headers`
    (ARM's remaining-requests header) to add to the answer."""

    error: ServiceError | None = None
    headers: dict[str, str] = field(default_factory=dict)


def parse_throttle(spec: str) -> dict[str, BucketSize]:
    """Bucket sizes of a SPEC; raise UserInputError naming every bad item, one line each."""
    sizes = dict(AZURE_BUCKETS)
    overrides: dict[str, BucketSize] = {}
    scale = 1.0
    problems: list[str] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item or item == "azure":
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        try:
            if not sep:
                raise ValueError("expected azure, scale=F or BUCKET=BURST/RATE")
            if name == "scale":
                scale = _positive(value, "scale")
            elif name in AZURE_BUCKETS:
                burst, slash, rate = value.partition("/")
                if not slash:
                    raise ValueError(f"expected {name}=BURST/RATE, e.g. {name}=20/2")
                size = BucketSize(_positive(burst, "burst"), _positive(rate, "rate"))
                if size.burst < 1:
                    raise ValueError(f"burst {burst} is below one token: nothing would pass")
                overrides[name] = size
            else:
                known = ["scale", *AZURE_BUCKETS]
                raise ValueError(
                    f"unknown bucket {name!r}{did_you_mean(name, known)}; expected one of "
                    + ", ".join(known)
                )
        except ValueError as exc:
            problems.append(f"--throttle: {item!r}: {exc}")
    if problems:
        raise UserInputError(problems)
    # A scaled bucket keeps at least one token, else it would refuse every request.
    sizes = {n: BucketSize(max(1.0, s.burst * scale), s.rate * scale) for n, s in sizes.items()}
    sizes.update(overrides)  # an explicit size is not scaled
    return sizes


def _positive(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{what} {text!r} must be greater than 0")
    return value


class Throttle:
    """The buckets of one emulator (thread-safe). ``Throttle(None)`` admits everything."""

    def __init__(self, spec: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.sizes = parse_throttle(spec) if spec and spec.strip() else None
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    @property
    def enabled(self) -> bool:
        return self.sizes is not None

    def admit(
        self, service: str, op: str, method: str, path: str, scope: str, caller: str
    ) -> Admission:
        """Take a token from every bucket the request counts against, or refuse it (taking none).

        `path` is the path below the service's prefix, `scope` the vault, `caller` the object id
        of the bearer token's principal.
        """
        if self.sizes is None:
            return Admission()
        if service == "arm":
            sub = _SUBSCRIPTION_RE.match(path)
            if sub is None:
                return Admission()
            subscription = sub.group(1).lower()
            kind = _ARM_KIND.get(method.upper(), "writes")
            keys: list[tuple[str, ...]] = [(f"arm-{kind}", subscription, caller)]
            keys += [(name, subscription) for name in _STORAGE_RP.get(op, ())]
        elif service == "keyvault":
            bucket = "keyvault-create" if op == "SetSecret" else "keyvault"
            keys = [(bucket, scope.lower())]
        else:
            return Admission()
        with self._lock:
            now = self._clock()
            buckets = [self._bucket(key, now) for key in keys]
            refused = next(
                ((k, b) for k, b in zip(keys, buckets, strict=True) if b.tokens < 1), None
            )
            if refused is not None:
                return Admission(error=_refusal(refused[0], refused[1].wait_s(), caller))
            for taken in buckets:
                taken.tokens -= 1.0
        if service != "arm":
            return Admission()
        # ARM's header for the Resource Manager bucket (the first), whole tokens left.
        name = f"x-ms-ratelimit-remaining-subscription-{kind}"
        return Admission(headers={name: str(int(buckets[0].tokens))})

    def _bucket(self, key: tuple[str, ...], now: float) -> TokenBucket:
        assert self.sizes is not None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.sizes[key[0]], now)
        bucket.refill(now)
        return bucket


def _refusal(key: tuple[str, ...], wait_s: float, caller: str) -> ServiceError:
    """The 429 each service sends when a bucket is empty (our wording, Azure's codes)."""
    retry_after = str(max(1, math.ceil(wait_s)))  # whole seconds, as ARM and the RPs send them
    name = key[0]
    if name.startswith("arm-"):
        # ARM's code for its own limits: SubscriptionRequestsThrottled (MicrosoftDocs/azure-docs
        # #105248), with Retry-After (request-limits-and-throttling.md, "Error code").
        kind = name.removeprefix("arm-").rstrip("s")
        return ArmError(
            f"Too many '{kind}' requests for subscription '{key[1]}' by principal '{caller}'. "
            f"Retry after '{retry_after}' seconds, once the bucket has refilled. "
            "See https://aka.ms/arm-throttling",
            status=429,
            code="SubscriptionRequestsThrottled",
            headers={"Retry-After": retry_after},
        )
    if name.startswith("storage-rp-"):
        # The storage resource provider: 429 TooManyRequests naming the exceeded window, with
        # Retry-After (seen in Azure/azure-media-migration#237 and microsoft/onefuzz#2100).
        window = "Read_ObservationWindow_00:05:00" if name == "storage-rp-reads" else "Write"
        return ArmError(
            f"Throttled: the storage resource provider's limit for operation type {window} is "
            "reached. See https://aka.ms/srpthrottlinglimits",
            status=429,
            code="TooManyRequests",
            headers={"Retry-After": retry_after},
        )
    # Key Vault: 429 Throttled with the reason in the message, and no Retry-After header (the
    # answer quoted in vcsjones/AzureSignTool#219 lists every header: none is Retry-After; the
    # throttling guidance, articles/key-vault/general/overview-throttling.md, tells clients to
    # back off exponentially, 1 s, 2 s, 4 s..., and never mentions the header).
    reason = (
        "VaultRequestTypeLimitReached"
        if name == "keyvault-create"
        else "VaultOperationLimitReached"
    )
    return KeyVaultError(
        f"Request was not processed because too many requests were received. Reason: {reason}",
        status=429,
        code="Throttled",
    )
