"""Entra ID as far as the emulator needs it: per-tenant authorities that hand out signed tokens
(client credentials, managed identity) and the check of those tokens on every service."""
