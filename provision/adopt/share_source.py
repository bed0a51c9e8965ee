"""`import --from-share`: read an analyst's current msticpyconfig.yaml from the workspace share.

The tenant must already be in the inventory: that is where its ML workspace (and so its storage
account and file share) is named. The file is read with the same clients and endpoints as plan
(real Azure, `--endpoints` or `--local`), bounded in size before it is downloaded.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from provision.commands.common import endpoints_for
from provision.errors import Problem, TenantError, UserInputError
from provision.inventory.fields import Alias
from provision.inventory.load import load_inventory
from provision.options import RunOptions
from provision.render import MSTICPYCONFIG
from provision.share import USERS, WorkspaceShare
from provision.workspace import discover, explain_azure_error
from provision.yamlsource import MAX_BYTES

_ALIAS: TypeAdapter[str] = TypeAdapter(Alias)


def read_user_config(
    inventory: str,
    tenant: str,
    alias: str,
    *,
    endpoints: str | None,
    local: bool,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
) -> tuple[str, str]:
    """(text, where) of Users/<alias>/msticpyconfig.yaml on the tenant's workspace share."""
    try:
        _ALIAS.validate_python(alias)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"]
        raise UserInputError([f"--user {alias!r}: {reason}"]) from None
    inv = load_inventory(inventory)
    t = inv.select([tenant])[0]
    folder = f"{USERS}/{alias}"
    where = f"{t.ml_workspace}:{folder}/{MSTICPYCONFIG}"
    from azure.core.exceptions import AzureError

    from provision.azure import Clients

    opts = RunOptions(
        inventory=inventory,
        local=local,
        endpoints=endpoints,
        auth=auth,
        allow_unencrypted_cache=allow_unencrypted_cache,
    )
    with endpoints_for(opts, inv) as ep:
        clients = Clients(0, ep, opts.sign_in().for_tenants([t]))
        try:
            ws = discover(clients, t)
            share = WorkspaceShare(
                clients.share(t, ws.storage_account, ws.file_share, ws.storage_key), tenant=t.name
            )
            listing = share.list_folder(folder) or {}
            remote = listing.get(MSTICPYCONFIG)
            if remote is None:
                raise UserInputError([Problem(f"no {folder}/{MSTICPYCONFIG} on the share", where)])
            if remote.size is not None and remote.size > MAX_BYTES:
                raise UserInputError(
                    [Problem(f"larger than {MAX_BYTES // 1024} KiB; refusing to read it", where)]
                )
            got = share.download(f"{folder}/{MSTICPYCONFIG}")
        except TenantError as exc:
            raise UserInputError([f"tenant {t.name}: {exc}"]) from None
        except AzureError as exc:
            message = explain_azure_error(
                exc, t, f"file share of {ws.storage_account}", "Storage File Data Privileged Reader"
            )
            raise UserInputError([f"tenant {t.name}: {message}"]) from None
        finally:
            clients.close()
    if got is None:
        raise UserInputError(
            [Problem(f"{folder}/{MSTICPYCONFIG} disappeared while reading", where)]
        )
    try:
        return got[0].decode("utf-8"), where
    except UnicodeDecodeError as exc:
        raise UserInputError([Problem(f"not UTF-8 text (byte {exc.start})", where)]) from None
