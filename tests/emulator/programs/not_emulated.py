"""Calls Azure operations that the local emulator does not implement; against Azure they work.

Usage: python not_emulated.py STEP ARGS...
  file-handles ACCOUNT_URL SHARE FILE      list the open SMB handles of a file
  share-access-policy ACCOUNT_URL SHARE    read a share's stored access policies
  ml-jobs SUBSCRIPTION_ID RESOURCE_GROUP WORKSPACE   list a workspace's jobs (azure-ai-ml)
Errors are not caught: the program fails as a user's would.
"""

import sys

from azure.identity import DefaultAzureCredential

step, args = sys.argv[1], sys.argv[2:]
credential = DefaultAzureCredential()

if step == "file-handles":
    from azure.storage.fileshare import ShareFileClient

    account_url, share, path = args
    file = ShareFileClient(account_url, share, path, credential=credential, token_intent="backup")
    print("handles", len(list(file.list_handles())))
elif step == "share-access-policy":
    from azure.storage.fileshare import ShareClient

    account_url, share = args
    client = ShareClient(account_url, share, credential=credential, token_intent="backup")
    print("policies", client.get_share_access_policy())
elif step == "ml-jobs":
    from azure.ai.ml import MLClient

    subscription_id, resource_group, workspace = args
    ml = MLClient(credential, subscription_id, resource_group, workspace)
    print("jobs", [job.name for job in ml.jobs.list()])
else:
    sys.exit(f"unknown step {step}")
