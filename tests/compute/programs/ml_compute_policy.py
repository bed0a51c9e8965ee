"""Read one compute instance's policy back through azure-ai-ml's MLClient, as a user would.

Usage: python ml_compute_policy.py SUBSCRIPTION_ID RESOURCE_GROUP WORKSPACE COMPUTE
Written as for Azure: DefaultAzureCredential() and MLClient (the emulator's env file points
azure-ai-ml at the emulator's Resource Manager).
"""

import sys

from azure.ai.ml import MLClient
from azure.identity import DefaultAzureCredential

subscription_id, resource_group, workspace, name = sys.argv[1:5]
ml = MLClient(DefaultAzureCredential(), subscription_id, resource_group, workspace)
ci = ml.compute.get(name)
print("size", ci.size)
print("idle_minutes", ci.idle_time_before_shutdown_minutes)
for s in ci.schedules.compute_start_stop if ci.schedules else []:
    print("schedule", s.action, s.trigger.expression, s.trigger.time_zone)
print("tags", sorted((ci.tags or {}).items()))
