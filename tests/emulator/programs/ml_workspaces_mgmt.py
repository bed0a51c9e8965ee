"""Azure ML workspaces and computes through azure-mgmt-machinelearningservices, sync and async.

Usage: python ml_workspaces_mgmt.py SUBSCRIPTION_ID RESOURCE_GROUP WORKSPACE
Written as for Azure: DefaultAzureCredential(), and the Resource Manager of the cloud named by
ARM_CLOUD_METADATA_URL when that is set (azure-cli and azure-ai-ml read the same variable for a
custom cloud; the generated management clients take the endpoint as base_url), else the public
cloud's.
"""

import asyncio
import os
import sys

import requests
from azure.identity import DefaultAzureCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices.aio import (
    MachineLearningServicesMgmtClient as AsyncMachineLearningServicesMgmtClient,
)


def cloud_settings() -> dict:
    """base_url and credential_scopes of the configured cloud ({} for the public cloud)."""
    metadata_url = os.environ.get("ARM_CLOUD_METADATA_URL")
    if not metadata_url:
        return {}
    clouds = requests.get(metadata_url, timeout=30).json()
    clouds = clouds if isinstance(clouds, list) else [clouds]
    # The cloud whose Resource Manager serves the metadata document (as azure-ai-ml picks it).
    cloud = next((c for c in clouds if metadata_url.startswith(c["resourceManager"])), clouds[0])
    audience = cloud["authentication"]["audiences"][0]
    return {
        "base_url": cloud["resourceManager"],
        "credential_scopes": [audience.rstrip("/") + "/.default"],
    }


subscription_id, resource_group, workspace = sys.argv[1], sys.argv[2], sys.argv[3]
settings = cloud_settings()

ml = MachineLearningServicesMgmtClient(DefaultAzureCredential(), subscription_id, **settings)
print("sync-subscription", sorted(w.name for w in ml.workspaces.list_by_subscription()))
print("sync-group", sorted(w.name for w in ml.workspaces.list_by_resource_group(resource_group)))
ws = ml.workspaces.get(resource_group, workspace)
print("sync-workspace", ws.name, ws.location)
computes = sorted(
    c.name for c in ml.machine_learning_compute.list_by_workspace(resource_group, workspace)
)
print("sync-computes", computes)
first = ml.machine_learning_compute.get(resource_group, workspace, computes[0])
print("sync-compute", first.name, first.properties.compute_type, first.properties.properties.state)


async def main() -> None:
    async with (
        AsyncDefaultAzureCredential() as credential,
        AsyncMachineLearningServicesMgmtClient(credential, subscription_id, **settings) as aml,
    ):
        names = sorted([w.name async for w in aml.workspaces.list_by_subscription()])
        print("async-subscription", names)
        ws = await aml.workspaces.get(resource_group, workspace)
        print("async-workspace", ws.name, ws.location)
        names = sorted(
            [
                c.name
                async for c in aml.machine_learning_compute.list_by_workspace(
                    resource_group, workspace
                )
            ]
        )
        print("async-computes", names)


asyncio.run(main())
