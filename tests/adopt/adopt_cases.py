"""Shared inputs of the adoption tests (a module of its own: `conftest` names clash across
folders when several test folders run together)."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).parent / "configs"

# An inventory with comments, flow style and one tenant: imports go into a copy of it.
BASE_INVENTORY = """\
# Fleet inventory: comments like this one survive an import.
version: 1

defaults:
  cloud: global   # every tenant is in the public cloud

tenants:
  # the first customer
  - name: first
    tenant_id: 4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d
    subscription_id: 6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f
    resource_group: rg-first
    ml_workspace: mlw-first
    key_vault: kv-first-nb       # the notebooks' vault
    sentinel:
      - name: Main      # the SOC's main workspace
        workspace_id: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
        workspace_name: law-main
        default: true
    users: [dave]   # flow style stays flow style
"""
