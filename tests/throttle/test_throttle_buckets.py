"""The throttling model's buckets, refusals and SPEC, on a clock the test moves.

Sizes and scopes: MicrosoftDocs/azure-docs, articles/azure-resource-manager/management/
request-limits-and-throttling.md ("Regional throttling and token bucket algorithm": reads 250
and 25 per second, writes and deletes 200 and 10, per subscription, principal and operation
type); articles/storage/common/scalability-targets-resource-provider.md (storage resource
provider: reads 800 per 5 minutes, writes 10 per second and 1200 per hour, per subscription);
articles/key-vault/general/service-limits.md (secrets: CREATE 300, all other transactions 4,000
per 10 seconds per vault). Refusals: ARM's SubscriptionRequestsThrottled
(MicrosoftDocs/azure-docs#105248), the storage RP's TooManyRequests with Retry-After
(Azure/azure-media-migration#237), Key Vault's Throttled without Retry-After
(vcsjones/AzureSignTool#219).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provision.emulator.throttle import AZURE_BUCKETS, BucketSize, Throttle, parse_throttle
from provision.errors import UserInputError

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
WS = SUB + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
SA = SUB + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(spec: str) -> tuple[Throttle, Clock]:
    clock = Clock()
    return Throttle(spec, clock=clock), clock


def _arm_get(t: Throttle, path: str = WS, caller: str = "p1", op: str = "GetWorkspace") -> object:
    return t.admit("arm", op, "GET", path, "", caller)


def test_azure_sizes_are_the_documented_ones() -> None:
    assert AZURE_BUCKETS["arm-reads"] == BucketSize(250, 25)
    assert AZURE_BUCKETS["arm-writes"] == BucketSize(200, 10)
    assert AZURE_BUCKETS["arm-deletes"] == BucketSize(200, 10)
    assert AZURE_BUCKETS["storage-rp-reads"].burst == 800
    assert AZURE_BUCKETS["storage-rp-reads"].rate * 300 == pytest.approx(800)
    assert AZURE_BUCKETS["storage-rp-writes-hourly"].rate * 3600 == pytest.approx(1200)
    assert AZURE_BUCKETS["keyvault"].burst == 4000 and AZURE_BUCKETS["keyvault"].rate * 10 == 4000
    assert AZURE_BUCKETS["keyvault-create"] == BucketSize(300, 30)


def test_burst_then_refusal_with_retry_after_and_arm_code() -> None:
    t, _ = _throttle("arm-reads=3/0.5")
    remaining = [_arm_get(t).headers["x-ms-ratelimit-remaining-subscription-reads"] for _ in "abc"]
    assert remaining == ["2", "1", "0"]
    refused = _arm_get(t).error
    assert refused is not None
    assert (refused.status, refused.code) == (429, "SubscriptionRequestsThrottled")
    assert refused.headers == {"Retry-After": "2"}  # one token at 0.5 per second: 2 s


def test_refill_is_continuous_and_capped_at_the_burst() -> None:
    t, clock = _throttle("arm-reads=2/4")
    assert _arm_get(t).error is None and _arm_get(t).error is None
    assert _arm_get(t).error is not None
    clock.now += 0.25  # one token at 4 per second
    assert _arm_get(t).error is None
    assert _arm_get(t).error is not None
    clock.now += 3600  # an hour idle refills to the burst, not beyond
    assert [_arm_get(t).error is None for _ in range(3)] == [True, True, False]


def test_a_refused_request_takes_no_token() -> None:
    t, clock = _throttle("arm-reads=1/1")
    assert _arm_get(t).error is None
    for _ in range(5):
        assert _arm_get(t).error is not None
    clock.now += 1.0
    assert _arm_get(t).error is None


def test_retry_after_is_whole_seconds_until_a_token() -> None:
    t, clock = _throttle("arm-reads=1/0.25")
    _arm_get(t)
    clock.now += 1.0  # a quarter token: 3 s more
    refused = _arm_get(t).error
    assert refused is not None and refused.headers["Retry-After"] == "3"
    fast, _ = _throttle("arm-reads=1/25")
    _arm_get(fast)
    refused = _arm_get(fast).error
    assert refused is not None and refused.headers["Retry-After"] == "1"  # 0.04 s rounds up


def test_buckets_are_per_subscription_principal_and_operation_type() -> None:
    t, _ = _throttle("arm-reads=1/1,arm-writes=1/1,arm-deletes=1/1")
    assert _arm_get(t).error is None
    assert _arm_get(t).error is not None
    assert _arm_get(t, caller="p2").error is None  # another principal
    other = WS.replace("0001", "0002")
    assert _arm_get(t, path=other).error is None  # another subscription
    put = t.admit("arm", "CreateOrUpdateCompute", "PUT", WS + "/computes/c", "", "p1")
    assert put.error is None and put.headers == {
        "x-ms-ratelimit-remaining-subscription-writes": "0"
    }
    delete = t.admit("arm", "DeleteCompute", "DELETE", WS + "/computes/c", "", "p1")
    assert delete.headers == {"x-ms-ratelimit-remaining-subscription-deletes": "0"}
    assert t.admit("arm", "ListSubscriptions", "GET", "/subscriptions", "", "p1").error is None


def test_storage_rp_limit_is_per_subscription_across_principals() -> None:
    t, _ = _throttle("storage-rp-reads=2/0.01")
    assert _arm_get(t, SA, "p1", "GetStorageAccount").error is None
    assert (
        t.admit("arm", "ListStorageAccountKeys", "POST", SA + "/listKeys", "", "p2").error is None
    )
    refused = _arm_get(t, SA, "p3", "GetStorageAccount").error
    assert refused is not None
    assert (refused.status, refused.code) == (429, "TooManyRequests")
    assert refused.headers == {"Retry-After": "100"}
    assert "Read_ObservationWindow_00:05:00" in refused.message
    assert _arm_get(t, WS, "p3").error is None  # other providers are not the storage RP's


def test_storage_rp_refusal_leaves_the_arm_bucket_untouched() -> None:
    t, _ = _throttle("arm-reads=2/0.001,storage-rp-reads=1/0.001")
    assert _arm_get(t, SA, op="GetStorageAccount").error is None
    assert _arm_get(t, SA, op="GetStorageAccount").error is not None
    ok = _arm_get(t)
    assert ok.error is None and ok.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"


def test_key_vault_limits_are_per_vault_without_retry_after() -> None:
    t, _ = _throttle("keyvault=2/1,keyvault-create=1/1")
    assert t.admit("keyvault", "GetSecret", "GET", "/secrets/a", "kv-1", "p").error is None
    assert t.admit("keyvault", "SetSecret", "PUT", "/secrets/a", "kv-1", "p").error is None
    create = t.admit("keyvault", "SetSecret", "PUT", "/secrets/a", "KV-1", "p").error
    assert create is not None and create.code == "Throttled" and create.status == 429
    assert create.headers == {}
    assert "VaultRequestTypeLimitReached" in create.message
    assert t.admit("keyvault", "GetSecret", "GET", "/secrets/a", "kv-1", "p").error is None
    get = t.admit("keyvault", "GetSecret", "GET", "/secrets/a", "kv-1", "p").error
    assert get is not None and "VaultOperationLimitReached" in get.message
    assert t.admit("keyvault", "GetSecret", "GET", "/secrets/a", "kv-2", "p").error is None


def test_files_and_identity_are_not_throttled() -> None:
    t, _ = _throttle("scale=0.0001")
    for _ in range(10):
        assert t.admit("files", "PutRange", "PUT", "/share/f", "acct", "p").error is None
        assert t.admit("identity", "Token", "POST", "/t/oauth2/v2.0/token", "", "").error is None


def test_off_without_a_spec() -> None:
    t = Throttle(None)
    assert not t.enabled
    assert all(_arm_get(t).error is None for _ in range(1000))


def test_scale_multiplies_every_bucket_and_explicit_sizes_win() -> None:
    sizes = parse_throttle("azure,scale=0.1,keyvault=7/3")
    assert sizes["arm-reads"] == BucketSize(25, 2.5)
    assert sizes["keyvault-create"] == BucketSize(30, 3)
    assert sizes["keyvault"] == BucketSize(7, 3)
    assert parse_throttle("azure") == AZURE_BUCKETS
    tiny = parse_throttle("scale=0.001")
    assert tiny["storage-rp-writes"] == BucketSize(1, 0.01)  # a burst keeps one token


def test_bad_spec_names_every_problem_one_line_each() -> None:
    with pytest.raises(UserInputError) as info:
        parse_throttle("arm-read=1/1,scale=0,keyvault=5,arm-writes=x/1,fast,arm-reads=0.5/1")
    lines = str(info.value).splitlines()
    assert len(lines) == 6, lines
    assert "unknown bucket 'arm-read' (did you mean 'arm-reads'?)" in lines[0]
    assert "scale '0' must be greater than 0" in lines[1]
    assert "expected keyvault=BURST/RATE" in lines[2]
    assert "burst 'x' is not a number" in lines[3]
    assert "expected azure, scale=F or BUCKET=BURST/RATE" in lines[4]
    assert "burst 0.5 is below one token" in lines[5]
    assert all(line.startswith("--throttle: ") for line in lines)


def test_emulator_task_refuses_a_bad_spec_in_one_line_each_and_makes_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    script = Path(sys.executable).with_name("msticpy-provision")
    run = subprocess.run(
        [str(script), "emulator", "--state-dir", str(state), "--throttle", "arm-read=1/1,scale=-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "--throttle: 'arm-read=1/1': unknown bucket 'arm-read'" in lines[0]
    assert "--throttle: 'scale=-1': scale '-1' must be greater than 0" in lines[1]
    assert not state.exists()
