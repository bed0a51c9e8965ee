"""Azure Key Vault secrets data plane: state model (models), routes (urls), wire (responses)."""
