"""The one clock: what "now" is when a secret's expiry is decided, in the tool and the emulator.

`MSTICPY_PROVISION_NOW` (an ISO 8601 date-time with its offset, `2027-01-01T00:00:00Z`) stands
in for the system clock: tests move it a day ahead, an admin asks what plan will say next month.
It is read at every call, so that a test can move it between two runs of one process, and the
emulator's Key Vault stamps `created` and `updated` by the same clock.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from provision.errors import UserInputError

NOW_ENV = "MSTICPY_PROVISION_NOW"


def now() -> datetime:
    """The current time, timezone-aware in UTC: the override when it is set, else the system's."""
    raw = os.environ.get(NOW_ENV, "").strip()
    if not raw:
        return datetime.now(timezone.utc)
    return parse_moment(raw)


def timestamp() -> int:
    """`now()` in whole seconds since the epoch (Key Vault's IntDate)."""
    return int(now().timestamp())


def parse_moment(raw: str) -> datetime:
    """The override's value as an aware UTC date-time; a clear error for anything else."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UserInputError(
            [f"{NOW_ENV}={raw!r} is not an ISO 8601 date-time (2027-01-01T00:00:00Z)"]
        ) from None
    if moment.tzinfo is None:
        raise UserInputError([f"{NOW_ENV}={raw!r} needs its offset (Z or +HH:MM)"])
    return moment.astimezone(timezone.utc)
