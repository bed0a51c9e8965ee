"""Share properties, share snapshots, share leases, Copy File and file service properties
through the official azure-storage-file-share clients (sync and aio), against the emulator.

Statuses and error codes are those of the File service REST reference and its spec
(azure-rest-api-specs, specification/storage/data-plane/Microsoft.FileStorage, file.json:
StorageErrorCode lists ShareHasSnapshots, LeaseIdMissing, LeaseAlreadyPresent,
LeaseIdMismatchWithLeaseOperation, LeaseIsBrokenAndCannotBeRenewed, ...); share leases follow
"Lease Share" (learn.microsoft.com/rest/api/storageservices/lease-share), which keeps the rules
and codes of Lease Container.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.fileshare import (
    CorsRule,
    Metrics,
    RetentionPolicy,
    ShareClient,
    ShareLeaseClient,
    ShareProtocolSettings,
    ShareServiceClient,
    ShareSmbSettings,
    SmbMultichannel,
)
from azure.storage.fileshare.aio import ShareClient as AioShareClient
from azure.storage.fileshare.aio import ShareServiceClient as AioShareServiceClient
from emulator_helpers import log_since, unique
from support.clients import fast_storage_retry, share_client

from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import storage_account_name


def _new_share(emu: Emulator, account: str, key: str, **create: object) -> ShareClient:
    client = share_client(emu, account, AzureNamedKeyCredential(account, key), unique("s"))
    client.create_share(**create)  # type: ignore[arg-type]
    return client


def _service(emu: Emulator, account: str, key: str) -> ShareServiceClient:
    return ShareServiceClient(
        account_url=emu.endpoints["files"].format(account=account),
        credential=AzureNamedKeyCredential(account, key),
        connection_verify=str(emu.ca_cert),
        retry_policy=fast_storage_retry(),
    )


def _error(exc: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int, str]:
    return exc.value.status_code or 0, exc.value.error_code or ""


# --- Set/Get Share Properties -------------------------------------------------------------------
def test_set_share_quota_and_access_tier(emu: Emulator, account: str, account_key: str) -> None:
    share = _new_share(emu, account, account_key, quota=5)
    before = share.get_share_properties()
    assert before.quota == 5 and before.access_tier == "TransactionOptimized"
    share.set_share_properties(quota=10, access_tier="Cool")
    after = share.get_share_properties()
    assert after.quota == 10 and after.access_tier == "Cool"
    assert after.etag != before.etag
    share.set_share_quota(20)
    assert share.get_share_properties().quota == 20


def test_bad_quota_and_tier_are_invalid_header_value(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    for kwargs in ({"quota": 0}, {"quota": 200000}, {"access_tier": "Glacier"}):
        with pytest.raises(HttpResponseError) as exc:
            share.set_share_properties(**kwargs)  # type: ignore[arg-type]
        assert _error(exc) == (400, "InvalidHeaderValue")


# --- snapshots ----------------------------------------------------------------------------------
def test_snapshot_keeps_the_old_content_and_lists_with_include(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    file = share.get_file_client("notes.txt")
    file.upload_file(b"version 1")
    snap = share.create_snapshot(metadata={"Reason": "backup"})
    file.upload_file(b"version 2")

    old = share_client(
        emu, account, account_key, share.share_name, snapshot=snap["snapshot"]
    ).get_file_client("notes.txt")
    assert old.download_file().readall() == b"version 1"
    assert old.get_file_properties().size == len(b"version 1")
    assert file.download_file().readall() == b"version 2"

    service = _service(emu, account, account_key)
    listed = [
        (s.name, s.snapshot, s.metadata)
        for s in service.list_shares(
            name_starts_with=share.share_name, include_snapshots=True, include_metadata=True
        )
    ]
    assert listed == [
        (share.share_name, snap["snapshot"], {"Reason": "backup"}),
        (share.share_name, None, {}),
    ]
    plain = [s.snapshot for s in service.list_shares(name_starts_with=share.share_name)]
    assert plain == [None]


def test_a_snapshot_is_read_only(emu: Emulator, account: str, account_key: str) -> None:
    share = _new_share(emu, account, account_key)
    snap = share.create_snapshot()
    frozen = share_client(emu, account, account_key, share.share_name, snapshot=snap["snapshot"])
    with pytest.raises(HttpResponseError) as exc:
        frozen.get_file_client("new.txt").upload_file(b"x")
    assert _error(exc) == (400, "ShareSnapshotOperationNotSupported")


def test_delete_share_with_snapshots_needs_delete_snapshots(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    first = share.create_snapshot()["snapshot"]
    second = share.create_snapshot()["snapshot"]
    assert first != second
    with pytest.raises(HttpResponseError) as exc:
        share.delete_share()
    assert _error(exc) == (409, "ShareHasSnapshots")

    # Deleting one snapshot leaves the share and the other snapshot.
    share_client(emu, account, account_key, share.share_name, snapshot=first).delete_share()
    service = _service(emu, account, account_key)
    left = [
        s.snapshot
        for s in service.list_shares(name_starts_with=share.share_name, include_snapshots=True)
    ]
    assert left == [second, None]

    share.delete_share(delete_snapshots=True)
    with pytest.raises(ResourceNotFoundError):
        share.get_share_properties()
    missing = share_client(emu, account, account_key, share.share_name, snapshot=second)
    with pytest.raises(ResourceNotFoundError):
        missing.get_share_properties()


# --- share leases -------------------------------------------------------------------------------
def test_share_lease_lifecycle_and_delete(emu: Emulator, account: str, account_key: str) -> None:
    share = _new_share(emu, account, account_key)
    lease = share.acquire_lease(lease_duration=-1)
    props = share.get_share_properties()
    assert (props.lease.state, props.lease.status, props.lease.duration) == (
        "leased",
        "locked",
        "infinite",
    )

    with pytest.raises(HttpResponseError) as exc:
        share.delete_share()
    assert _error(exc) == (412, "LeaseIdMissing")
    with pytest.raises(HttpResponseError) as exc:
        share.delete_share(lease="0f0e0d0c-0000-4000-8000-00000000dead")
    assert _error(exc) == (412, "LeaseIdMismatchWithContainerOperation")

    lease.renew()
    new_id = "0f0e0d0c-0000-4000-8000-000000000042"
    lease.change(new_id)
    assert lease.id == new_id
    other = share.acquire_lease  # a second holder cannot take it
    with pytest.raises(HttpResponseError) as exc:
        other(lease_id="0f0e0d0c-0000-4000-8000-000000000043")
    assert _error(exc) == (409, "LeaseAlreadyPresent")

    lease.release()
    assert share.get_share_properties().lease.state == "available"
    with pytest.raises(HttpResponseError) as exc:
        ShareLeaseClient(share, lease_id=new_id).release()
    assert _error(exc) == (409, "LeaseNotPresentWithLeaseOperation")

    lease = share.acquire_lease(lease_duration=-1)
    share.delete_share(lease=lease)
    with pytest.raises(ResourceNotFoundError):
        share.get_share_properties()


def test_break_ends_an_infinite_lease_and_blocks_renew(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    lease = share.acquire_lease(lease_duration=-1)
    assert lease.break_lease() == 0
    assert share.get_share_properties().lease.state == "broken"
    with pytest.raises(HttpResponseError) as exc:
        lease.renew()
    assert _error(exc) == (409, "LeaseIsBrokenAndCannotBeRenewed")
    share.delete_share()  # a broken lease no longer guards the share


def test_fixed_lease_breaking_period(emu: Emulator, account: str, account_key: str) -> None:
    share = _new_share(emu, account, account_key)
    lease = share.acquire_lease(lease_duration=15)
    assert share.get_share_properties().lease.duration == "fixed"
    assert lease.break_lease(lease_break_period=10) == 10
    assert share.get_share_properties().lease.state == "breaking"
    with pytest.raises(HttpResponseError) as exc:
        share.delete_share()
    assert _error(exc) == (412, "LeaseIdMissing")
    with pytest.raises(HttpResponseError) as exc:
        share.acquire_lease(lease_duration=5)
    assert _error(exc) == (400, "InvalidHeaderValue")


# --- Copy File ----------------------------------------------------------------------------------
def test_copy_file_from_the_azure_host_name_and_the_emulator_url(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    source = share.get_file_client("source.txt")
    source.upload_file(b"copied bytes", metadata={"Owner": "alice"})

    # As a program written for Azure writes the source: the account's real host name.
    azure_url = f"https://{account}.file.core.windows.net/{share.share_name}/source.txt"
    target = share.get_file_client("from-azure-url.txt")
    result = target.start_copy_from_url(azure_url)
    assert result["copy_status"] == "success" and result["copy_id"]
    assert target.download_file().readall() == b"copied bytes"
    props = target.get_file_properties()
    assert props.copy.status == "success" and props.copy.id == result["copy_id"]
    assert props.metadata == {"Owner": "alice"}

    # The emulator's own path-style URL (what ShareFileClient.url is here).
    second = share.get_file_client("from-emulator-url.txt")
    second.start_copy_from_url(source.url, metadata={"Copied": "yes"})
    assert second.download_file().readall() == b"copied bytes"
    assert second.get_file_properties().metadata == {"Copied": "yes"}


def test_copy_from_a_snapshot_and_from_nothing(
    emu: Emulator, account: str, account_key: str
) -> None:
    share = _new_share(emu, account, account_key)
    share.get_file_client("f.txt").upload_file(b"old")
    snap = share.create_snapshot()["snapshot"]
    share.get_file_client("f.txt").upload_file(b"new")
    restored = share.get_file_client("restored.txt")
    url = f"https://{account}.file.core.windows.net/{share.share_name}/f.txt?sharesnapshot={snap}"
    restored.start_copy_from_url(url)
    assert restored.download_file().readall() == b"old"

    with pytest.raises(HttpResponseError) as exc:
        share.get_file_client("x.txt").start_copy_from_url(
            f"https://{account}.file.core.windows.net/{share.share_name}/absent.txt"
        )
    assert _error(exc) == (404, "CannotVerifyCopySource")


# --- File Service Properties --------------------------------------------------------------------
def test_service_properties_round_trip(emu: Emulator, account: str, account_key: str) -> None:
    service = _service(emu, account, account_key)
    default = service.get_service_properties()
    assert default["cors"] == [] and default["hour_metrics"].enabled is False

    rule = CorsRule(["https://notebooks.example"], ["GET", "PUT"], max_age_in_seconds=60)
    service.set_service_properties(
        hour_metrics=Metrics(
            enabled=True, include_apis=True, retention_policy=RetentionPolicy(True, 7)
        ),
        cors=[rule],
        protocol=ShareProtocolSettings(
            smb=ShareSmbSettings(multichannel=SmbMultichannel(enabled=True))
        ),
    )
    props = service.get_service_properties()
    assert props["hour_metrics"].enabled is True
    assert props["hour_metrics"].retention_policy.days == 7
    assert [c.allowed_origins for c in props["cors"]] == ["https://notebooks.example"]
    assert props["protocol"].smb.multichannel.enabled is True
    assert props["minute_metrics"].enabled is False  # not sent, so unchanged

    service.set_service_properties(cors=[])  # put back for the other tests
    with pytest.raises(HttpResponseError) as exc:
        service.set_service_properties(cors=[rule] * 6)
    assert _error(exc) == (400, "InvalidXmlDocument")


def test_service_properties_body_must_be_xml(emu: Emulator, account: str, account_key: str) -> None:
    service = _service(emu, account, account_key)
    from azure.core.rest import HttpRequest

    request = HttpRequest(
        "PUT",
        f"{service.url}?restype=service&comp=properties",
        content=b"<StorageServiceProperties><Cors>",
        headers={"Content-Type": "application/xml", "x-ms-version": "2025-11-05"},
    )
    response = service._client._client.send_request(request)  # signed by the client pipeline
    assert response.status_code == 400
    assert response.headers["x-ms-error-code"] == "InvalidXmlDocument"


# --- bearer tokens on share operations; the request log ------------------------------------------
def test_bearer_token_reaches_share_level_operations(emu: Emulator, account: str) -> None:
    service = ShareServiceClient(
        account_url=emu.endpoints["files"].format(account=account),
        credential=emu.credential,
        token_intent="backup",
        connection_verify=str(emu.ca_cert),
        retry_policy=fast_storage_retry(),
    )
    share = service.get_share_client(unique("oauth"))
    share.create_share(quota=3)
    share.set_share_properties(quota=4)
    lease = share.acquire_lease()
    assert share.get_share_properties().quota == 4
    snapshot = share.create_snapshot()["snapshot"]
    assert any(s.snapshot == snapshot for s in service.list_shares(include_snapshots=True))
    lease.release()
    share.delete_share(delete_snapshots=True)


def test_new_operations_are_logged_by_name(emu: Emulator, account: str, account_key: str) -> None:
    mark = len(emu.requests())
    share = _new_share(emu, account, account_key)
    share.create_snapshot()
    share.set_share_properties(quota=7)
    share.acquire_lease().release()
    ops = [e["op"] for e in log_since(emu, mark)]
    assert ops == ["CreateShare", "SnapshotShare", "SetShareProperties", "LeaseShare", "LeaseShare"]


# --- the same through the aio clients -------------------------------------------------------------
def test_aio_clients_snapshot_lease_copy_and_service_properties(
    emu: Emulator, account: str, account_key: str
) -> None:
    async def scenario() -> None:
        credential = AzureNamedKeyCredential(account, account_key)
        url = emu.endpoints["files"].format(account=account)
        # (The aio clients take the storage retry policy only from a private module; no faults
        # are injected here, so the default one never waits.)
        common = {"connection_verify": str(emu.ca_cert)}
        async with AioShareServiceClient(url, credential=credential, **common) as service:
            share = service.get_share_client(unique("aio"))
            await share.create_share(quota=2)
            await share.set_share_properties(quota=3, access_tier="Hot")
            props = await share.get_share_properties()
            assert (props.quota, props.access_tier) == (3, "Hot")

            file = share.get_file_client("a.txt")
            await file.upload_file(b"aio bytes")
            snap = (await share.create_snapshot())["snapshot"]
            await file.upload_file(b"changed")
            async with AioShareClient(
                url, share.share_name, snapshot=snap, credential=credential, **common
            ) as frozen:
                old = await (await frozen.get_file_client("a.txt").download_file()).readall()
            assert old == b"aio bytes"

            copy = share.get_file_client("b.txt")
            azure_url = f"https://{account}.file.core.windows.net/{share.share_name}/a.txt"
            assert (await copy.start_copy_from_url(azure_url))["copy_status"] == "success"
            assert await (await copy.download_file()).readall() == b"changed"

            lease = await share.acquire_lease(lease_duration=-1)
            with pytest.raises(HttpResponseError) as exc:
                await share.delete_share(delete_snapshots=True)
            assert _error(exc) == (412, "LeaseIdMissing")
            await lease.break_lease()
            await share.delete_share(delete_snapshots=True)

            await service.set_service_properties(
                minute_metrics=Metrics(enabled=True, retention_policy=RetentionPolicy(True, 2))
            )
            assert (await service.get_service_properties())["minute_metrics"].enabled is True
            await service.set_service_properties(minute_metrics=Metrics())

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 30


def test_snapshots_leases_and_service_properties_survive_a_restart(tmp_path: Path) -> None:
    tenant = SeedTenant(
        tenant_id="0f0e0d0c-0000-4000-8000-00000000aaaa",
        subscription_id="0f0e0d0c-0000-4000-8000-00000000bbbb",
        resource_group="rg-restart",
        workspace="ws-restart",
        key_vault="kv-restart",
    )
    account = storage_account_name(tenant)
    with Emulator(tmp_path).start([tenant]) as first:
        key = first.endpoints["storage_keys"][account]
        share = _new_share(first, account, key, quota=9)
        share.get_file_client("f.txt").upload_file(b"kept")
        snapshot = share.create_snapshot()["snapshot"]
        lease_id = share.acquire_lease(lease_duration=-1).id
        _service(first, account, key).set_service_properties(
            cors=[CorsRule(["https://a.example"], ["GET"])]
        )
    with Emulator(tmp_path).start() as second:
        share = share_client(second, account, key, share.share_name)
        props = share.get_share_properties()
        assert (props.quota, props.lease.state) == (9, "leased")
        frozen = share_client(second, account, key, share.share_name, snapshot=snapshot)
        assert frozen.get_file_client("f.txt").download_file().readall() == b"kept"
        cors = _service(second, account, key).get_service_properties()["cors"]
        assert [c.allowed_origins for c in cors] == ["https://a.example"]
        share.delete_share(lease=lease_id, delete_snapshots=True)
