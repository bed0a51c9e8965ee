"""Azure ML workspaces and computes through azure-mgmt-machinelearningservices,
sync and async, with the client's defaults: no base_url, so https://management.azure.com.

Usage: python ml_workspaces_public_cloud.py SUBSCRIPTION_ID RESOURCE_GROUP WORKSPACE
Written as for Azure's public cloud: DefaultAzureCredential() and the client's own endpoint.
"""

import asyncio
import sys

from azure.identity import DefaultAzureCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices.aio import (
    MachineLearningServicesMgmtClient as AsyncMachineLearningServicesMgmtClient,
)

subscription_id, resource_group, workspace = sys.argv[1], sys.argv[2], sys.argv[3]

ml = MachineLearningServicesMgmtClient(DefaultAzureCredential(), subscription_id)
ws = ml.workspaces.get(resource_group, workspace)
print("sync-workspace", ws.name, ws.location)
computes = sorted(
    c.name for c in ml.machine_learning_compute.list_by_workspace(resource_group, workspace)
)
print("sync-computes", computes)


async def main() -> None:
    async with (
        AsyncDefaultAzureCredential() as credential,
        AsyncMachineLearningServicesMgmtClient(credential, subscription_id) as aml,
    ):
        names = sorted([w.name async for w in aml.workspaces.list_by_subscription()])
        print("async-subscription", names)


asyncio.run(main())
