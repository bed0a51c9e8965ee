"""Key Vault secrets, sync client: set, get, versions, list, backup, delete, recover, purge,
restore.

Usage: python keyvault_secrets.py VAULT_URL SECRET_NAME
Written as for Azure: DefaultAzureCredential() and a plain SecretClient.
"""

import sys

from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

vault_url, name = sys.argv[1], sys.argv[2]
client = SecretClient(vault_url, DefaultAzureCredential())

client.set_secret(name, "first")
client.set_secret(name, "second", content_type="text/plain", tags={"team": "soc"})
secret = client.get_secret(name)
print("get", secret.value, secret.properties.content_type, secret.properties.tags["team"])
print("versions", len(list(client.list_properties_of_secret_versions(name))))
print("listed", name in {p.name for p in client.list_properties_of_secrets()})

backup = client.backup_secret(name)
print("backup", len(backup) > 0)

client.begin_delete_secret(name).wait()
deleted = client.get_deleted_secret(name)
print("deleted", deleted.name, deleted.recovery_id is not None)
print("listed-deleted", name in {d.name for d in client.list_deleted_secrets()})

client.begin_recover_deleted_secret(name).wait()
print("recovered", client.get_secret(name).value)

client.begin_delete_secret(name).wait()
client.purge_deleted_secret(name)
print("purged", name not in {d.name for d in client.list_deleted_secrets()})

restored = client.restore_secret_backup(backup)
print("restored", restored.name, client.get_secret(name).value)
print("restored-versions", len(list(client.list_properties_of_secret_versions(name))))
