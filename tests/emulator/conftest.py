"""Fixtures of the emulator's tests: one running, seeded emulator for the session, and official
SDK clients pointed at it. Tests that change the world use names of their own (`unique`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.storage.fileshare import ShareClient
from emulator_helpers import TENANT
from support.clients import ml_client, secret_client, share_client

from provision.emulator import Emulator
from provision.emulator.seed import storage_account_name


@pytest.fixture(scope="session")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("emulator")) as emulator:
        emulator.seed([TENANT])
        yield emulator


@pytest.fixture
def clean_faults(emu: Emulator) -> Iterator[Emulator]:
    """The session emulator, with faults, latency and denials reset after the test."""
    yield emu
    emu.set_faults(None)
    emu.set_latency(0)
    emu.allow_all()


@pytest.fixture(scope="session")
def account(emu: Emulator) -> str:
    return storage_account_name(TENANT)


@pytest.fixture(scope="session")
def account_key(emu: Emulator, account: str) -> str:
    key: str = emu.endpoints["storage_keys"][account]
    return key


@pytest.fixture
def kv(emu: Emulator) -> SecretClient:
    return secret_client(emu, TENANT.key_vault)


@pytest.fixture
def share(emu: Emulator, account: str, account_key: str) -> ShareClient:
    return share_client(emu, account, account_key)


@pytest.fixture
def ml(emu: Emulator) -> MachineLearningServicesMgmtClient:
    return ml_client(emu, TENANT.subscription_id)
