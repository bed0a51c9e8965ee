"""Key Vault secrets, async client: set, get, versions, list, backup, delete, recover, purge,
restore.

Usage: python keyvault_secrets_async.py VAULT_URL SECRET_NAME
Written as for Azure: azure.identity.aio.DefaultAzureCredential() and a plain
azure.keyvault.secrets.aio.SecretClient.
"""

import asyncio
import sys

from azure.identity.aio import DefaultAzureCredential
from azure.keyvault.secrets.aio import SecretClient


async def main(vault_url: str, name: str) -> None:
    async with (
        DefaultAzureCredential() as credential,
        SecretClient(vault_url, credential) as client,
    ):
        await client.set_secret(name, "first")
        await client.set_secret(name, "second", content_type="text/plain", tags={"team": "soc"})
        secret = await client.get_secret(name)
        props = secret.properties
        print("get", secret.value, props.content_type, props.tags["team"])
        versions = [v async for v in client.list_properties_of_secret_versions(name)]
        print("versions", len(versions))
        print("listed", name in {p.name async for p in client.list_properties_of_secrets()})

        backup = await client.backup_secret(name)
        print("backup", len(backup) > 0)

        await client.delete_secret(name)
        deleted = await client.get_deleted_secret(name)
        print("deleted", deleted.name, deleted.recovery_id is not None)
        print("listed-deleted", name in {d.name async for d in client.list_deleted_secrets()})

        await client.recover_deleted_secret(name)
        print("recovered", (await client.get_secret(name)).value)

        await client.delete_secret(name)
        await client.purge_deleted_secret(name)
        print("purged", name not in {d.name async for d in client.list_deleted_secrets()})

        restored = await client.restore_secret_backup(backup)
        print("restored", restored.name, (await client.get_secret(name)).value)
        versions = [v async for v in client.list_properties_of_secret_versions(name)]
        print("restored-versions", len(versions))


asyncio.run(main(sys.argv[1], sys.argv[2]))
