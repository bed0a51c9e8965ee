"""Azure Files through the official ShareClient, ShareDirectoryClient, ShareFileClient and
ShareLeaseClient, against the emulator over HTTPS."""

from __future__ import annotations

import base64
import hashlib

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline import PipelineRequest
from azure.storage.fileshare import (
    ContentSettings,
    ShareClient,
    ShareLeaseClient,
    ShareServiceClient,
)
from emulator_helpers import log_since, unique
from support.clients import share_client

from provision.emulator import Emulator
from provision.emulator.auth import canonical_header_order, new_account_key, string_to_sign
from provision.emulator.seed import NOTEBOOK_SHARE


def _md5(data: bytes) -> bytearray:
    return bytearray(hashlib.md5(data).digest())


def test_share_create_properties_delete(emu: Emulator, account: str, account_key: str) -> None:
    name = unique("scratch")
    client = share_client(emu, account, AzureNamedKeyCredential(account, account_key), name)
    client.create_share(quota=5, metadata={"Purpose": "test"})
    props = client.get_share_properties()
    assert props.name == name and props.quota == 5 and props.metadata == {"Purpose": "test"}
    assert props.etag and props.last_modified
    with pytest.raises(ResourceExistsError) as exists:
        client.create_share()
    assert exists.value.error_code == "ShareAlreadyExists"
    service = ShareServiceClient(
        emu.endpoints["files"].format(account=account),
        credential=account_key,
        connection_verify=str(emu.ca_cert),
    )
    assert {NOTEBOOK_SHARE, name} <= {s.name for s in service.list_shares()}
    client.delete_share()
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_share_properties()
    assert missing.value.error_code == "ShareNotFound"


def test_directories_create_list_delete(share: ShareClient) -> None:
    top = unique("dir")
    root = share.create_directory(top)
    with pytest.raises(ResourceExistsError) as exc:
        share.create_directory(top)
    assert exc.value.error_code == "ResourceAlreadyExists"
    with pytest.raises(ResourceNotFoundError) as parent:
        share.create_directory(f"{top}/missing/child")
    assert parent.value.error_code == "ParentNotFound"
    root.create_subdirectory("sub")
    for i in range(5):
        root.upload_file(f"f{i}.txt", f"content {i}".encode())
    names = sorted(e["name"] for e in root.list_directories_and_files())
    assert names == ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "sub"]
    entries = {
        e["name"]: e
        for e in root.list_directories_and_files(
            include=["timestamps", "Etag", "Attributes"], include_extended_info=True
        )
    }
    assert entries["f1.txt"]["size"] == len(b"content 1")
    assert entries["f1.txt"]["etag"] and entries["f1.txt"]["last_write_time"]
    assert entries["sub"]["is_directory"] is True
    assert [e["name"] for e in root.list_directories_and_files(name_starts_with="f1")] == ["f1.txt"]
    pages = list(root.list_directories_and_files(results_per_page=2).by_page())
    assert [len(list(p)) for p in pages] == [2, 2, 2]
    with pytest.raises(ResourceExistsError) as not_empty:
        root.delete_directory()
    assert not_empty.value.error_code == "DirectoryNotEmpty"
    root.get_subdirectory_client("sub").delete_directory()
    assert root.get_directory_properties().is_directory


def test_upload_download_whole_and_ranged_with_md5(share: ShareClient) -> None:
    data = bytes(range(256)) * 40
    file = share.get_file_client(unique("blob") + ".bin")
    file.create_file(
        len(data),
        content_settings=ContentSettings(
            content_type="application/x-yaml", content_md5=_md5(data), cache_control="no-cache"
        ),
    )
    file.upload_range(data[:4096], offset=0, length=4096, validate_content=True)
    file.upload_range(data[4096:], offset=4096, length=len(data) - 4096)
    download = file.download_file()
    assert download.readall() == data
    assert download.properties.content_settings.content_md5 == _md5(data)
    part = file.download_file(offset=100, length=50)
    assert part.readall() == data[100:150]
    raw = file.download_file(offset=0, length=1024, validate_content=True)
    assert raw.readall() == data[:1024]
    props = file.get_file_properties()
    assert props.size == len(data)
    assert props.content_settings.content_type == "application/x-yaml"
    assert props.content_settings.content_md5 == _md5(data)
    assert props.content_settings.cache_control == "no-cache"
    assert props.etag and props.last_modified


def test_upload_file_and_empty_file(share: ShareClient) -> None:
    file = share.get_file_client(unique("small") + ".txt")
    file.upload_file(b"hello")
    assert file.download_file().readall() == b"hello"
    empty = share.get_file_client(unique("empty") + ".txt")
    empty.create_file(0)
    assert empty.download_file().readall() == b""


def test_put_range_with_a_wrong_md5_is_md5_mismatch(share: ShareClient) -> None:
    file = share.get_file_client(unique("md5") + ".txt")
    file.create_file(4)
    # The generated operation lets the test send a Content-MD5 that does not match the body.
    with pytest.raises(HttpResponseError) as exc:
        file._client.file.upload_range(
            b"abcd", range="bytes=0-3", content_length=4, content_md5=hashlib.md5(b"wxyz").digest()
        )
    assert exc.value.status_code == 400
    assert exc.value.response.headers["x-ms-error-code"] == "Md5Mismatch"


def test_set_properties_replaces_content_settings_and_resizes(share: ShareClient) -> None:
    file = share.get_file_client(unique("props") + ".txt")
    file.upload_file(b"0123456789")
    file.set_http_headers(
        ContentSettings(content_type="text/plain", content_md5=_md5(b"x")), file_attributes="none"
    )
    props = file.get_file_properties()
    assert props.content_settings.content_type == "text/plain"
    assert props.content_settings.content_md5 == _md5(b"x")
    file.resize_file(4)
    assert file.download_file().readall() == b"0123"
    file.set_file_metadata({"Owner": "alice"})
    assert file.get_file_properties().metadata == {"Owner": "alice"}
    file.delete_file()
    with pytest.raises(ResourceNotFoundError) as exc:
        file.get_file_properties()
    assert exc.value.error_code == "ResourceNotFound"


def test_rename_replaces_the_target_atomically(emu: Emulator, share: ShareClient) -> None:
    folder = share.create_directory(unique("atomic"))
    folder.upload_file("msticpyconfig.yaml", b"old")
    temp = folder.upload_file(".msticpyconfig.yaml.tmp", b"new")
    target_path = f"{folder.directory_path}/msticpyconfig.yaml"
    with pytest.raises(ResourceExistsError) as exc:
        temp.rename_file(target_path)
    assert exc.value.error_code == "ResourceAlreadyExists"
    mark = len(emu.requests())
    renamed = temp.rename_file(target_path, overwrite=True)
    assert [e["op"] for e in log_since(emu, mark)] == ["RenameFile"]
    assert renamed.download_file().readall() == b"new"
    assert [e["name"] for e in folder.list_directories_and_files()] == ["msticpyconfig.yaml"]
    with pytest.raises(ResourceNotFoundError):
        temp.rename_file(f"{folder.directory_path}/other.yaml")


def test_file_leases(share: ShareClient) -> None:
    file = share.get_file_client(unique("leased") + ".txt")
    file.upload_file(b"locked")
    lease = file.acquire_lease()
    assert file.get_file_properties().lease.state == "leased"
    assert file.get_file_properties().lease.duration == "infinite"
    with pytest.raises(HttpResponseError) as missing:
        file.upload_range(b"LOCKED", offset=0, length=6)
    assert missing.value.status_code == 412
    assert missing.value.error_code == "LeaseIdMissing"
    file.upload_range(b"LOCKED", offset=0, length=6, lease=lease)
    with pytest.raises(ResourceExistsError) as present:
        ShareLeaseClient(file).acquire()
    assert present.value.error_code == "LeaseAlreadyPresent"
    new_id = "2c53c66d-2a6e-4d7c-8d9e-5a0b0e3e8f10"
    lease.change(new_id)
    assert lease.id == new_id
    lease.release()
    assert file.get_file_properties().lease.state == "available"
    second = file.acquire_lease()
    second.break_lease()
    assert file.get_file_properties().lease.state == "broken"
    file.delete_file()


def test_wrong_account_key_is_403_authentication_failed(emu: Emulator, account: str) -> None:
    client = share_client(emu, account, new_account_key())
    with pytest.raises(ClientAuthenticationError) as exc:
        client.get_share_properties()
    assert exc.value.status_code == 403
    assert exc.value.error_code == "AuthenticationFailed"
    assert exc.value.response.headers["x-ms-request-id"]


def test_bearer_token_needs_backup_intent(emu: Emulator, account: str) -> None:
    # Azure Files takes Entra ID tokens with x-ms-file-request-intent: backup on file and
    # directory operations since REST 2022-11-02 and on every data-plane operation, share-level
    # ones included, since 2024-11-04 (Microsoft Learn, "Authorize access to file data ... OAuth
    # over REST"); azure-storage-file-share sends the header for token_intent="backup".
    client = share_client(emu, account, emu.credential, token_intent="backup")
    file = client.get_file_client(unique("oauth") + ".txt")
    file.upload_file(b"via token")
    assert file.download_file().readall() == b"via token"
    assert client.get_share_properties().name == NOTEBOOK_SHARE
    with pytest.raises(ResourceExistsError):
        client.create_share()  # past authentication: the share exists
    # Service and share operations take tokens only from REST 2024-11-04 (learn.microsoft.com,
    # azure/storage/files/authorize-oauth-rest); a client pinned to an older version is refused.
    older = share_client(
        emu, account, emu.credential, token_intent="backup", api_version="2024-08-04"
    )
    with pytest.raises(ClientAuthenticationError) as older_exc:
        older.get_share_properties()
    assert older_exc.value.status_code == 403
    # Without the intent Azure answers 400 MissingRequiredHeader, HeaderName
    # x-ms-file-request-intent (seen in Azure/azure-sdk-for-net#36365). The SDK refuses to build
    # a token client without token_intent, so the header is removed on the wire here.
    with pytest.raises(HttpResponseError) as exc:
        client.get_file_client("x.txt").get_file_properties(raw_request_hook=_drop_intent)
    assert exc.value.status_code == 400
    assert exc.value.error_code == "MissingRequiredHeader"


def _drop_intent(request: PipelineRequest) -> None:  # type: ignore[type-arg]
    request.http_request.headers.pop("x-ms-file-request-intent", None)


def test_requests_carry_request_id_etag_and_last_modified(share: ShareClient) -> None:
    file = share.get_file_client(unique("headers") + ".txt")
    file.upload_file(b"x")
    headers = {}
    file.download_file(raw_response_hook=lambda r: headers.update(r.http_response.headers))
    assert headers["x-ms-request-id"] and headers["ETag"] and headers["Last-Modified"]
    assert headers["Content-Range"] == "bytes 0-0/1"


def test_string_to_sign_orders_x_ms_headers_like_the_service() -> None:
    assert canonical_header_order(
        ["x-ms-version", "x-ms-date", "x-ms-a-b", "x-ms-ab", "x-ms-file-attributes"]
    ) == ["x-ms-ab", "x-ms-a-b", "x-ms-date", "x-ms-file-attributes", "x-ms-version"]
    text = string_to_sign(
        "GET",
        {"x-ms-date": "d", "x-ms-version": "v", "content-length": "0"},
        "acct",
        "/acct/share/dir",
        "restype=directory&comp=list",
    )
    assert text.split("\n") == [
        "GET",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "x-ms-date:d",
        "x-ms-version:v",
        "/acct/acct/share/dir",
        "comp:list",
        "restype:directory",
    ]
    assert base64.b64decode(new_account_key())
