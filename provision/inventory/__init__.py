"""The inventory: one YAML file that describes every tenant of the fleet.

Loading merges `defaults` into every tenant (the tenant's own value wins, mappings merge key by key,
lists are replaced), validates the result with pydantic, and reports every problem at once as
`FILE:LINE: tenants[1].sentinel[0].workspace_id: not a GUID (expected 8-4-4-4-12 hex)`.
Secret values are never needed here: secret-bearing settings hold references (`env:NAME`,
`file:PATH`) that are resolved only by `validate --check-secrets`, plan and apply.

Modules: `fields` (value types), `model` (the pydantic model), `rules` (rules across fields and
tenants), `load` (reading and error translation). Import from them directly.
"""
