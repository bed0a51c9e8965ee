"""Azure Resource Manager for Microsoft.MachineLearningServices (and the storage accounts and
vaults a workspace points at): state model (models), routes (urls), wire (responses)."""
