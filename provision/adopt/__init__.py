"""Adopting msticpy-provision: importing the msticpy configs a team already has.

Modules: `mapping` (config -> tenant entry, exact by construction), `inventory_edit` (round-trip
editing of the inventory file). The `import` command itself is `provision.commands.import_config`.
"""
