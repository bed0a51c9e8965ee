"""Azure ML workspaces and computes through azure-ai-ml's MLClient (sync: azure-ai-ml has no
async client).

Usage: python ml_workspaces_azure_ai_ml.py SUBSCRIPTION_ID RESOURCE_GROUP WORKSPACE
Written as for Azure: DefaultAzureCredential() and MLClient; azure-ai-ml finds a custom cloud's
Resource Manager through ARM_CLOUD_METADATA_URL itself.
"""

import sys

from azure.ai.ml import MLClient
from azure.identity import DefaultAzureCredential

subscription_id, resource_group, workspace = sys.argv[1], sys.argv[2], sys.argv[3]
credential = DefaultAzureCredential()

group = MLClient(credential, subscription_id, resource_group)
print("workspaces", sorted(w.name for w in group.workspaces.list()))

ml = MLClient(credential, subscription_id, resource_group, workspace)
ws = ml.workspaces.get(workspace)
print("workspace", ws.name, ws.location, ws.storage_account.rsplit("/", 1)[-1] != "")
computes = sorted(ml.compute.list(), key=lambda c: c.name)
print("computes", [c.name for c in computes])
first = ml.compute.get(computes[0].name)
print("compute", first.name, first.type, first.state == "Running")
print("datastores", sorted(d.name for d in ml.datastores.list()))
