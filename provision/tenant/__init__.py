"""The per-tenant core: read a tenant, plan it, apply the plan, read it back.

- `context`: the tenant's run (clients, fan-out, desired state, settings) and the read mode;
- `record`: the tool's record of what it wrote and checked, and what a run may trust it for;
- one module per kind of thing the tool manages, each with the same four steps (read, plan,
  apply, read back): `secrets`, `files`, `orphans`, `computes`, `access`;
- `read`: a tenant's reads as batches of independent requests, and its plan;
- `steps`: plan, apply and verify of one tenant (provision.engine runs them for a fleet).
"""
