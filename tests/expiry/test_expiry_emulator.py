"""The emulator's Key Vault and secret dates, as Azure has them, through azure-keyvault-secrets:
exp/nbf/created/updated stored and returned, attributes patched on the same version, and an
expired or not-yet-valid secret still served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.keyvault.secrets import SecretClient
from expiry_helpers import T0, at, days
from support.clients import secret_client

from provision.emulator import Emulator, SeedTenant

VAULT = "kv-expiry"
TENANT = SeedTenant(
    tenant_id="0d7c4a52-2f1e-4b8a-9c3d-5e6f7a8b9c0d",
    subscription_id="1e8d5b63-3a2f-4c9b-8d4e-6f7a8b9c0d1e",
    resource_group="rg-expiry",
    workspace="ws-expiry",
    key_vault=VAULT,
)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[SecretClient]:
    with Emulator(tmp_path / "emu") as emu:
        emu.seed([TENANT])
        yield secret_client(emu, VAULT)


def test_an_expired_or_not_yet_valid_secret_is_still_served(
    vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Azure: "A secret's get operation will work for not-yet-valid and expired secrets, outside
    # the nbf / exp window" (MicrosoftDocs/azure-security-docs,
    # articles/key-vault/secrets/about-secrets.md, "Date-time controlled operations"); observed
    # as 200 with the value for an expired secret in Azure/AzureKeyVault issue #19. Only a
    # disabled secret is refused (403 Forbidden, inner error SecretDisabled).
    at(monkeypatch, T0)
    vault.set_secret("old", "v-old", expires_on=T0 - days(1))
    vault.set_secret("early", "v-early", not_before=T0 + days(1))
    expired = vault.get_secret("old")
    assert (expired.value, expired.properties.expires_on) == ("v-old", T0 - days(1))
    early = vault.get_secret("early")
    assert (early.value, early.properties.not_before) == ("v-early", T0 + days(1))
    listed = {p.name: p.expires_on for p in vault.list_properties_of_secrets()}
    assert listed == {"old": T0 - days(1), "early": None}


def test_a_patch_of_the_dates_keeps_the_version_and_its_creation(
    vault: SecretClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Azure: PATCH {vault}/secrets/{name}/{version} (UpdateSecret) changes the given attributes
    # of that version; those not in the request are left unchanged, and the value cannot be
    # changed (Azure/azure-rest-api-specs,
    # specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/secrets.json, UpdateSecret);
    # created stays the version's, updated moves.
    at(monkeypatch, T0)
    made = vault.set_secret("k", "v", expires_on=T0 + days(10), not_before=T0)
    assert made.properties.created_on == made.properties.updated_on == T0
    at(monkeypatch, T0 + days(2))
    patched = vault.update_secret_properties("k", expires_on=T0 + days(30))
    assert patched.version == made.properties.version
    assert patched.expires_on == T0 + days(30)
    assert patched.not_before == T0  # attributes not sent stay as they were
    assert patched.created_on == T0 and patched.updated_on == T0 + days(2)
    assert [v.version for v in vault.list_properties_of_secret_versions("k")] == [
        made.properties.version
    ]
    assert vault.get_secret("k").properties.expires_on == T0 + days(30)
