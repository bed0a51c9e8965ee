"""ARM operations on the resources around a workspace: storage accounts (GET, PATCH of
``allowSharedKeyAccess``, listKeys), Log Analytics workspaces (GET), the workspace's datastores
(GET, api-version 2024-04-01 shape) and the cloud metadata document.

Shapes: azure-rest-api-specs Microsoft.Storage 2023-05-01 ``storage.json``,
Microsoft.OperationalInsights 2022-10-01 ``Workspaces.json``, Microsoft.MachineLearningServices
2024-04-01 ``mfe.json`` (``DatastoreResource``, ``AzureFileDatastore``); the metadata document
is ARM's ``/metadata/endpoints?api-version=2022-09-01`` (a list of clouds, each with
``resourceManager``, ``authentication.loginEndpoint``/``audiences`` and ``suffixes``), the
fields azure-cli and azure-ai-ml (``_azure_environments._convert_arm_to_cli``) read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provision.emulator.arm.exceptions import ResourceNotFound, ValidationError
from provision.emulator.arm.sentinel import law_body
from provision.emulator.arm.shapes import json_body, json_response, named_body
from provision.emulator.hostnames import ARM_HOST, LOGIN_HOST, files_url
from provision.emulator.wire import ARM_PREFIX, WireRequest, WireResponse

if TYPE_CHECKING:
    from provision.emulator.arm.models import ArmBackend, Workspace
    from provision.emulator.state import Backend

__all__ = ["CLOUD_NAME", "ResourceOperations", "cloud_metadata"]

CLOUD_NAME = "MsticpyProvisionEmulator"
LIST_METADATA_API_VERSION = "2022-09-01"  # from this version on, a list of clouds

_DATASTORE_TYPE = "Microsoft.MachineLearningServices/workspaces/datastores"


def cloud_metadata(base_url: str, public: bool = False) -> list[dict[str, Any]]:
    """The emulator as one cloud in ARM's metadata document. Its name is not one of the
    public clouds' (``AzureCloud``, ``AzureUSGovernment``, ``AzureChinaCloud``): azure-ai-ml
    (``_azure_environments._get_cloud``) keeps its built-in endpoints for those names, and
    azure-cli forces ``login.microsoftonline.com`` for ``AzureCloud``, so either would leave the
    emulator. Data-plane suffixes are Azure's: the emulator's vaults and shares are path-style
    (see endpoints.json).

    `public`: the document as ``https://management.azure.com`` serves it (a request through the
    emulator's proxy): the public cloud, ``AzureCloud``, with Azure's own endpoints, which the
    proxy answers too."""
    login = f"https://{LOGIN_HOST}/" if public else f"{base_url}/"
    manager = f"https://{ARM_HOST}/" if public else f"{base_url}{ARM_PREFIX}/"
    return [
        {
            "portal": "https://portal.azure.com",
            "authentication": {
                "loginEndpoint": login,
                "audiences": [
                    "https://management.core.windows.net/",
                    "https://management.azure.com/",
                ],
                "tenant": "common",
                "identityProvider": "AAD",
            },
            "media": "https://rest.media.azure.net",
            "graphAudience": "https://graph.windows.net/",
            "graph": "https://graph.windows.net/",
            "name": "AzureCloud" if public else CLOUD_NAME,
            "suffixes": {
                "acrLoginServer": "azurecr.io",
                "sqlServerHostname": "database.windows.net",
                "keyVaultDns": "vault.azure.net",
                "storage": "core.windows.net",
                "mhsmDns": "managedhsm.azure.net",
                "azureFrontDoorEndpointSuffix": "azurefd.net",
            },
            "batch": "https://batch.core.windows.net/",
            "resourceManager": manager,
            "activeDirectoryDataLake": "https://datalake.azure.net/",
            "sqlManagement": "https://management.core.windows.net:8443/",
            "microsoftGraphResourceId": "https://graph.microsoft.com/",
            "appInsightsResourceId": "https://api.applicationinsights.io",
            "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
            "attestationResourceId": "https://attest.azure.net",
            "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
            "logAnalyticsResourceId": "https://api.loganalytics.io",
            "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        }
    ]


class ResourceOperations:
    """Mixed into ArmWire: storage accounts, Log Analytics workspaces, datastores, metadata."""

    backend: Backend
    arm: ArmBackend

    def op_GetCloudMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        clouds = cloud_metadata(req.base_url, req.public_host)
        version = req.query.get("api-version", "")
        if version >= LIST_METADATA_API_VERSION and version[:1].isdigit():
            return json_response(200, clouds)
        # Older versions, and "latest", answer with the one cloud of the host as an object:
        # msticpy (auth/cloud_mappings.py, get_cloud_endpoints_by_resource_manager_url) asks
        # for api-version=latest and reads the object's "authentication" and "suffixes";
        # azure-ai-ml (_azure_environments._get_clouds_by_metadata_url) takes either shape.
        return json_response(200, clouds[0])

    # --- storage accounts -------------------------------------------------------------------
    def _storage_body(self, req: WireRequest, sub: str, rg: str, name: str) -> dict[str, Any]:
        res = self.arm.storage_account(sub, rg, name)
        allow = res.properties.get("allowSharedKeyAccess")
        body = named_body(
            res,
            "Microsoft.Storage/storageAccounts",
            {
                "provisioningState": "Succeeded",
                "primaryEndpoints": {"file": files_url(req.base_url, res.name, req.public_host)},
                "primaryLocation": res.location,
                "statusOfPrimary": "available",
                "allowSharedKeyAccess": allow,
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": True,
            },
        )
        body.update(kind="StorageV2", sku={"name": "Standard_LRS", "tier": "Standard"})
        return body

    def op_GetStorageAccount(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return json_response(200, self._storage_body(req, p["sub"], p["rg"], p["name"]))

    def op_UpdateStorageAccount(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.storage_account(p["sub"], p["rg"], p["name"])
        props = json_body(req).get("properties") or {}
        if not isinstance(props, dict):
            raise ValidationError("properties must be an object.")
        if "allowSharedKeyAccess" in props:
            value = props["allowSharedKeyAccess"]
            if value is not None and not isinstance(value, bool):
                raise ValidationError("properties.allowSharedKeyAccess must be a boolean.")
            res.properties["allowSharedKeyAccess"] = value
            self.arm.changed()
        return json_response(200, self._storage_body(req, p["sub"], p["rg"], p["name"]))

    def op_ListStorageAccountKeys(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        # Azure still lists the keys of an account whose allowSharedKeyAccess is false: only
        # requests signed with them are refused (Microsoft Learn, "Prevent Shared Key
        # authorization for an Azure Storage account": the keys are not deleted or disabled).
        res = self.arm.storage_account(p["sub"], p["rg"], p["name"])
        account = self.backend.files.find_account(res.name)
        keys = account.keys if account else []
        return json_response(
            200,
            {
                "keys": [
                    {"keyName": f"key{i + 1}", "value": k, "permissions": "FULL"}
                    for i, k in enumerate(keys)
                ]
            },
        )

    # --- Log Analytics ----------------------------------------------------------------------
    def op_GetLogAnalyticsWorkspace(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        res = self.arm.log_analytics_workspace(p["sub"], p["rg"], p["name"])
        return json_response(200, law_body(res))

    # --- datastores -------------------------------------------------------------------------
    def _datastores(self, ws: Workspace) -> dict[str, dict[str, Any]]:
        file_props = {
            "datastoreType": "AzureFile",
            "accountName": ws.storage_account,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "credentials": {"credentialsType": "AccountKey"},
            "serviceDataAccessAuthIdentity": "None",
            "isDefault": False,
            "description": None,
            "properties": {},
            "tags": {},
            "subscriptionId": ws.subscription_id,
            "resourceGroup": ws.resource_group,
        }
        return {
            "workspaceworkingdirectory": {**file_props, "fileShareName": ws.working_share},
            "workspacefilestore": {
                **file_props,
                "fileShareName": f"azureml-filestore-{ws.workspace_id}",
            },
        }

    def _datastore_body(self, ws: Workspace, name: str, props: dict[str, Any]) -> dict[str, Any]:
        ws_id = (
            f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
        )
        return {
            "id": f"{ws_id}/datastores/{name}",
            "name": name,
            "type": _DATASTORE_TYPE,
            "properties": props,
        }

    def op_ListDatastores(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self.arm.workspace(p["sub"], p["rg"], p["ws"])
        items = [self._datastore_body(ws, n, d) for n, d in sorted(self._datastores(ws).items())]
        return json_response(200, {"value": items})

    def op_GetDatastore(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        ws = self.arm.workspace(p["sub"], p["rg"], p["ws"])
        found = self._datastores(ws).get(p["datastore"].lower())
        if found is None:
            raise ResourceNotFound(
                f"Microsoft.MachineLearningServices/workspaces/{ws.name}/datastores",
                p["datastore"],
                ws.resource_group,
            )
        return json_response(200, self._datastore_body(ws, p["datastore"].lower(), found))
