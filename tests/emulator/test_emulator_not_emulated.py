"""An operation the emulator does not implement answers 501 NotImplementedByEmulator, named, in
the service's own error shape, and the request log records it; a resource that does not exist
still gets the service's own 404.

The programs below are real SDK calls a user could make against Azure: file handle listing and
share access policies (azure-storage-file-share), resource group listing
(azure-mgmt-resource), ML usages (azure-mgmt-machinelearningservices) and a Key Vault
certificate read (sent raw: azure-keyvault-certificates is not installed here).
"""

from __future__ import annotations

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.resource import ResourceManagementClient
from azure.storage.fileshare import ShareClient
from emulator_helpers import FAST, TENANT, log_since, unique

from provision.emulator import Emulator
from provision.emulator.wire import NOT_EMULATED_CODE


def _logged(emu: Emulator, mark: int) -> list[tuple[str, int, str | None]]:
    return [(e["op"], e["status"], e.get("error")) for e in log_since(emu, mark)]


def test_files_operation_not_emulated_is_501_with_its_name(
    emu: Emulator, share: ShareClient
) -> None:
    file = share.get_file_client(unique("handles") + ".txt")
    file.upload_file(b"x")
    mark = len(emu.requests())
    with pytest.raises(HttpResponseError) as exc:
        list(file.list_handles())
    assert exc.value.status_code == 501
    assert exc.value.error_code == NOT_EMULATED_CODE
    assert "ListHandles" in str(exc.value.message) and "comp=listhandles" in str(exc.value)
    assert _logged(emu, mark) == [("ListHandles", 501, NOT_EMULATED_CODE)]

    with pytest.raises(HttpResponseError) as exc:
        share.get_share_access_policy()
    assert (exc.value.status_code, exc.value.error_code) == (501, NOT_EMULATED_CODE)
    assert "GetShareACL" in str(exc.value.message)


def test_missing_file_is_still_resource_not_found(share: ShareClient) -> None:
    with pytest.raises(ResourceNotFoundError) as exc:
        share.get_file_client(unique("absent") + ".txt").download_file()
    assert (exc.value.status_code, exc.value.error_code) == (404, "ResourceNotFound")


def test_copy_from_another_account_is_not_emulated(
    emu: Emulator, account: str, account_key: str, share: ShareClient
) -> None:
    target = share.get_file_client(unique("copy") + ".txt")
    with pytest.raises(HttpResponseError) as exc:
        target.start_copy_from_url("https://otheraccount.file.core.windows.net/share/f.txt")
    assert (exc.value.status_code, exc.value.error_code) == (501, NOT_EMULATED_CODE)
    # Named by the real-Azure host name form it was given; the body is Azure Files' XML.
    assert exc.value.response.text().startswith('<?xml version="1.0" encoding="utf-8"?><Error>')


def test_unknown_comp_on_a_share_is_501(emu: Emulator, account: str, account_key: str) -> None:
    client = ShareClient(
        account_url=emu.endpoints["files"].format(account=account),
        share_name="code-391ff5ac-6576-460f-ba4d-7e03433c68b6",
        credential=AzureNamedKeyCredential(account, account_key),
        connection_verify=str(emu.ca_cert),
    )
    request = HttpRequest("GET", f"{client.url}?restype=share&comp=stats")
    response = client._client._client.send_request(request)  # signed by the SDK's pipeline
    assert response.status_code == 501
    assert response.headers["x-ms-error-code"] == NOT_EMULATED_CODE
    assert "GetShareStats" in response.text()


def test_key_vault_certificate_call_is_501_in_key_vault_json(
    emu: Emulator, kv: SecretClient
) -> None:
    mark = len(emu.requests())
    response = kv.send_request(HttpRequest("GET", "/certificates/web-tls?api-version=7.5"))
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == NOT_EMULATED_CODE
    assert "GET /certificates/web-tls" in error["message"]
    logged = [(e["service"], e["status"], e.get("error")) for e in log_since(emu, mark)]
    assert ("keyvault", 501, NOT_EMULATED_CODE) in logged
    # A secret that does not exist is still Key Vault's own 404.
    missing = kv.send_request(HttpRequest("GET", f"/secrets/{unique('nope')}?api-version=7.5"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "SecretNotFound"


def test_arm_calls_not_emulated_are_501_in_arm_json(
    emu: Emulator, ml: MachineLearningServicesMgmtClient
) -> None:
    resources = ResourceManagementClient(
        emu.credential,
        TENANT.subscription_id,
        base_url=emu.endpoints["arm"],
        connection_verify=str(emu.ca_cert),
        **FAST,
    )
    mark = len(emu.requests())
    with pytest.raises(HttpResponseError) as exc:
        list(resources.resource_groups.list())
    assert (exc.value.status_code, exc.value.error.code if exc.value.error else None) == (
        501,
        NOT_EMULATED_CODE,
    )
    with pytest.raises(HttpResponseError) as exc:
        list(ml.usages.list("westeurope"))
    assert exc.value.status_code == 501
    assert all(e["status"] == 501 for e in log_since(emu, mark))
    assert {e["error"] for e in log_since(emu, mark)} == {NOT_EMULATED_CODE}
    # The resource group the emulator serves still answers, and a missing one is ARM's 404.
    assert resources.resource_groups.get(TENANT.resource_group).name == TENANT.resource_group
    with pytest.raises(ResourceNotFoundError):
        ml.workspaces.get(TENANT.resource_group, unique("no-such-ws"))
