"""`create-compute`: a user's compute instance with the tool's startup script wired in."""

from __future__ import annotations

from provision.commands.common import endpoints_for, prepare
from provision.options import RunOptions


def run(
    inventory: str,
    *,
    tenant: str,
    user: str,
    size: str,
    local: bool,
    endpoints: str | None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
) -> int:
    from provision.compute import create_compute

    opts = RunOptions(
        inventory=inventory,
        tenant=[tenant],
        local=local,
        endpoints=endpoints,
        auth=auth,
        allow_unencrypted_cache=allow_unencrypted_cache,
    )
    inv, renders = prepare(inventory, [tenant], None)
    with endpoints_for(opts, inv) as ep:
        code: int = create_compute(inv, renders[0], user, size or None, ep, opts.sign_in())
    return code
