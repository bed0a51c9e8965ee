"""msticpy-provision: fleet-wide msticpy settings, Key Vault secrets and kernel wiring on AML."""

__version__ = "0.1.0"
