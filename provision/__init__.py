"""msticpy-provision: fleet-wide msticpy settings, Key Vault secrets and kernel wiring on Azure ML."""

__version__ = "0.1.0"
