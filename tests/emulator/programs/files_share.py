"""Azure Files, sync clients: service properties, a share with its properties, a directory and
file round trip, a snapshot, a share lease and a copy.

Usage: python files_share.py ACCOUNT_URL SHARE_NAME
Written as for Azure: DefaultAzureCredential() with the backup intent that Azure Files requires
of OAuth callers.
"""

import sys

from azure.core.exceptions import HttpResponseError
from azure.identity import DefaultAzureCredential
from azure.storage.fileshare import CorsRule, Metrics, RetentionPolicy, ShareServiceClient

account_url, share_name = sys.argv[1], sys.argv[2]
service = ShareServiceClient(
    account_url, credential=DefaultAzureCredential(), token_intent="backup"
)

# Service properties: hourly metrics kept 7 days, one CORS rule.
service.set_service_properties(
    hour_metrics=Metrics(
        enabled=True, include_apis=True, retention_policy=RetentionPolicy(enabled=True, days=7)
    ),
    cors=[CorsRule(["https://notebooks.example.org"], ["GET", "PUT"], max_age_in_seconds=600)],
)
got = service.get_service_properties()
hour = got["hour_metrics"]
print("service-metrics", hour.enabled, hour.retention_policy.days)
print("service-cors", got["cors"][0].allowed_origins, got["cors"][0].max_age_in_seconds)

# Share and its properties.
share = service.create_share(share_name, quota=10)
share.set_share_properties(quota=20, access_tier="Cool")
props = share.get_share_properties()
print("share-properties", props.quota, props.access_tier)

# Directory and file round trip.
directory = share.create_directory("reports")
src = directory.upload_file("summary.txt", b"version one")
print("download", src.download_file().readall().decode())
print("listing", [item.name for item in directory.list_directories_and_files()])

# Snapshot: the file keeps its old content there.
snapshot = share.create_snapshot()["snapshot"]
src.upload_file(b"version two")
at_snapshot = service.get_share_client(share_name, snapshot=snapshot)
old = at_snapshot.get_file_client("reports/summary.txt").download_file().readall().decode()
print("snapshot-read", old, src.download_file().readall().decode())
listed = [
    s.snapshot for s in service.list_shares(name_starts_with=share_name, include_snapshots=True)
]
print("snapshots-listed", listed.count(snapshot), len(listed))

# Copy within the account, from the file's URL and from Azure's host-name form of it.
copy = share.get_file_client("reports/copy.txt")
print("copy-status", copy.start_copy_from_url(src.url)["copy_status"])
print("copy-content", copy.download_file().readall().decode())
azure_form = (
    f"https://{service.account_name}.file.core.windows.net/{share_name}/reports/summary.txt"
)
second = share.get_file_client("reports/copy-2.txt")
print("copy-status-2", second.start_copy_from_url(azure_form)["copy_status"])
print("copy-content-2", second.download_file().readall().decode())

# Share lease: acquire, renew, change, release, and its hold on Delete Share.
lease = share.acquire_lease(lease_duration=-1)
lease.renew()
lease.change("5e4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
print("lease", share.get_share_properties().lease.state, lease.id)
try:
    share.delete_share(delete_snapshots=True)
except HttpResponseError as exc:
    print("delete-leased", exc.status_code, exc.response.headers["x-ms-error-code"])
lease.release()
lease = share.acquire_lease(lease_duration=15)
print("broken-in", lease.break_lease(lease_break_period=0))
print("lease-after-break", share.get_share_properties().lease.state)

# Clean up: the snapshot, then the share.
at_snapshot.delete_share()
share.delete_share(delete_snapshots=True)
print("shares-left", [s.name for s in service.list_shares(name_starts_with=share_name)])
