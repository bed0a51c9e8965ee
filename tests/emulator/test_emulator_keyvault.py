"""Key Vault secrets through the official SecretClient, against the emulator over HTTPS."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient
from emulator_helpers import TENANT, log_since, unique
from support.clients import secret_client

from provision.emulator import Emulator, EmulatorCredential


def test_set_creates_a_new_version_each_time_with_properties(kv: SecretClient) -> None:
    name = unique("TIProviders-VirusTotal-Args-AuthKey")
    first = kv.set_secret(name, "v1", content_type="text/plain", tags={"owner": "soc"})
    second = kv.set_secret(name, "v2")
    assert first.properties.version != second.properties.version
    assert first.name == name and first.value == "v1"
    assert first.properties.content_type == "text/plain"
    assert first.properties.tags == {"owner": "soc"}
    assert first.properties.enabled is True
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    assert first.properties.created_on is not None and first.properties.updated_on is not None
    assert kv.get_secret(name).value == "v2"
    assert kv.get_secret(name, first.properties.version).value == "v1"
    versions = {p.version for p in kv.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}


def test_get_missing_secret_or_version_is_secret_not_found(kv: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError) as exc:
        kv.get_secret(unique("missing"))
    assert exc.value.status_code == 404
    assert exc.value.error is not None and exc.value.error.code == "SecretNotFound"
    name = unique("present")
    kv.set_secret(name, "x")
    with pytest.raises(ResourceNotFoundError):
        kv.get_secret(name, "0" * 32)


def test_list_pages_with_next_link_and_maxresults(emu: Emulator, kv: SecretClient) -> None:
    vault = unique("kv-paging")
    emu.backend.keyvault.create_vault(vault, TENANT.tenant_id)
    client = secret_client(emu, vault)
    names = [f"s{i:02d}" for i in range(7)]
    for name in names:
        client.set_secret(name, name)
    mark = len(emu.requests())
    pages = list(client.list_properties_of_secrets(max_page_size=3).by_page())
    assert [len(list(page)) for page in pages] == [3, 3, 1]
    assert sorted(p.name for p in client.list_properties_of_secrets()) == names
    listed = [e for e in log_since(emu, mark) if e["op"] == "GetSecrets"]
    assert len(listed) == 3 + 1 and all(e["status"] == 200 for e in listed)


def test_update_properties_changes_tags_content_type_and_enabled(kv: SecretClient) -> None:
    name = unique("upd")
    kv.set_secret(name, "value")
    props = kv.update_secret_properties(
        name, content_type="application/json", tags={"a": "b"}, enabled=False
    )
    assert props.content_type == "application/json" and props.tags == {"a": "b"}
    assert props.enabled is False
    with pytest.raises(HttpResponseError) as exc:
        kv.get_secret(name)
    assert exc.value.status_code == 403
    assert "disabled" in str(exc.value.message)
    kv.update_secret_properties(name, enabled=True)
    assert kv.get_secret(name).value == "value"


def test_soft_delete_recover_and_purge(kv: SecretClient) -> None:
    name = unique("soft")
    kv.set_secret(name, "keep-me")
    deleted = kv.begin_delete_secret(name).result()
    assert deleted.name == name
    assert deleted.recovery_id is not None
    assert deleted.recovery_id.endswith(f"/deletedsecrets/{name}")
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90
    with pytest.raises(ResourceNotFoundError):
        kv.get_secret(name)
    assert kv.get_deleted_secret(name).name == name
    assert name in {d.name for d in kv.list_deleted_secrets()}

    recovered = kv.begin_recover_deleted_secret(name).result()
    assert recovered.name == name
    assert kv.get_secret(name).value == "keep-me"

    kv.begin_delete_secret(name).result()
    kv.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        kv.get_deleted_secret(name)
    kv.set_secret(name, "reborn")
    assert kv.get_secret(name).value == "reborn"


def test_setting_a_soft_deleted_name_is_a_conflict(emu: Emulator, kv: SecretClient) -> None:
    name = unique("conflict")
    kv.set_secret(name, "x")
    kv.begin_delete_secret(name).result()
    with pytest.raises(ResourceExistsError) as exc:
        kv.set_secret(name, "y")
    assert exc.value.status_code == 409
    assert exc.value.error is not None and exc.value.error.code == "Conflict"
    body = exc.value.response.json()
    assert body["error"]["innererror"] == {"code": "ObjectIsDeletedButRecoverable"}
    assert "deleted but recoverable" in body["error"]["message"]
    with pytest.raises(ResourceNotFoundError):
        kv.purge_deleted_secret(unique("never-deleted"))


def test_backup_and_restore(kv: SecretClient) -> None:
    name = unique("backup")
    kv.set_secret(name, "v1")
    kv.set_secret(name, "v2")
    blob = kv.backup_secret(name)
    kv.begin_delete_secret(name).result()
    kv.purge_deleted_secret(name)
    restored = kv.restore_secret_backup(blob)
    assert restored.name == name
    assert kv.get_secret(name).value == "v2"
    assert len(list(kv.list_properties_of_secret_versions(name))) == 2
    with pytest.raises(ResourceExistsError):
        kv.restore_secret_backup(blob)


def test_bad_name_is_bad_parameter(kv: SecretClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        kv.set_secret("not_valid", "x")
    assert exc.value.status_code == 400
    assert exc.value.error is not None and exc.value.error.code == "BadParameter"


def test_every_response_has_a_request_id(kv: SecretClient) -> None:
    response = kv.send_request(HttpRequest("GET", "/secrets"))
    assert response.status_code == 200
    assert response.headers["x-ms-request-id"]
    missing = kv.send_request(HttpRequest("GET", f"/secrets/{unique('nope')}"))
    assert missing.status_code == 404 and missing.headers["x-ms-request-id"]


def test_unauthenticated_request_gets_the_challenge_then_the_sdk_succeeds(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A fresh emulator (a new host:port) so the SDK's process-wide challenge cache is empty.
    with Emulator(tmp_path_factory.mktemp("challenge")) as emu:
        emu.seed([TENANT])
        client = secret_client(emu, TENANT.key_vault)
        client.set_secret("first", "value")
        log = [(e["op"], e["status"]) for e in emu.requests()]
        assert log == [("SetSecret", 401), ("SetSecret", 200)]

        url = emu.endpoints["keyvault"].format(vault="kv-soc-team") + "/secrets/first"
        response = requests.get(
            url, params={"api-version": "7.6"}, verify=str(emu.ca_cert), timeout=10
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
        challenge = response.headers["WWW-Authenticate"]
        # Azure names the vault's tenant under its authority and, as resource, the vault host
        # without its first label (https://vault.azure.net for <vault>.vault.azure.net); the
        # emulator does the same for its own authority and host 127.0.0.1:PORT.
        assert challenge == (
            f'Bearer authorization="{emu.endpoints["authority"]}/{TENANT.tenant_id}", '
            f'resource="https://0.0.1:{emu.port}"'
        )
        assert response.headers["x-ms-request-id"]


def test_wrong_bearer_token_is_refused(emu: Emulator) -> None:
    client = secret_client(emu, TENANT.key_vault, EmulatorCredential("not-the-token"))
    with pytest.raises(ClientAuthenticationError) as exc:
        client.get_secret("anything")
    assert exc.value.status_code == 401


def test_unknown_vault_fails_at_the_connection_like_a_dns_failure(emu: Emulator) -> None:
    client = secret_client(emu, "no-such-vault", retry_total=1)
    mark = len(emu.requests())
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        client.get_secret("x")
    entries = log_since(emu, mark)
    assert entries and all(e["status"] == 0 and e["error"] == "VaultNotFound" for e in entries)
