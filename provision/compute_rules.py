"""Azure ML's rules for a compute instance's idle shutdown and start/stop schedules, as data and
pure checks: the inventory's `compute_policy` is validated with them offline, and the emulator
refuses a compute PUT that breaks them.

Sources (checked; the tests that pin each rule cite them again):
- Idle shutdown: `idleTimeBeforeShutdown` is an ISO 8601 duration; "Minimum is 15 min, maximum
  is 3 days" (azure-rest-api-specs, machinelearningservices stable/2024-04-01,
  definitions.IdleShutdownSetting; Microsoft Learn, "Create a compute instance", Configure idle
  shutdown: "inactive for a minimum of 15 mins and a maximum of three days").
- Schedules: `schedules.computeStartStop[]` of {action: Start|Stop, triggerType: Cron|Recurrence,
  cron: {expression, timeZone, startTime}, status: Enabled|Disabled} (same spec,
  ComputeStartStopSchedule, Cron); "You can create a total of four schedules per compute
  instance" (Microsoft Learn, same article). The expression "should follow NCronTab format" and
  has exactly five fields (minute, hour, day of month, month, day of week); NCrontab's ranges are
  0-59, 0-23, 1-31, 1-12 (or month names), 0-6 (Sunday=0, or day names) (atifaziz/NCrontab,
  CrontabFieldImpl). The time zone "should follow Windows time zone format" (Cron.timeZone,
  default UTC): the Windows ids are taken from CLDR's windowsZones table as tzlocal ships it,
  plus the two ids azure-ai-ml's `TimeZone` still offers that CLDR has retired.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

__all__ = [
    "MAX_IDLE",
    "MAX_SCHEDULES",
    "MIN_IDLE",
    "POWER_ACTIONS",
    "SCHEDULE_STATUSES",
    "cron_problem",
    "duration_problem",
    "minutes_form",
    "parse_duration",
    "time_zone_problem",
    "windows_time_zones",
]

MIN_IDLE = timedelta(minutes=15)
MAX_IDLE = timedelta(days=3)
MAX_SCHEDULES = 4
POWER_ACTIONS = ("Start", "Stop")
SCHEDULE_STATUSES = ("Enabled", "Disabled")

# NCrontab's five fields: name, lowest, highest, names (matched case-insensitively by prefix).
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, tuple(_MONTHS)),
    ("day of week", 0, 6, tuple(_DAYS)),
)
_TERM_RE = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")
# Ids azure-ai-ml's TimeZone enum offers that CLDR's windowsZones no longer lists.
_RETIRED_WINDOWS_ZONES = frozenset({"Mid-Atlantic Standard Time", "Kamchatka Standard Time"})


def parse_duration(text: str) -> timedelta | None:
    """An ISO 8601 duration of fixed length (no years or months), or None if it is not one."""
    import isodate

    if not isinstance(text, str) or not text.startswith("P"):
        return None
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        return None
    return value if isinstance(value, timedelta) else None


def minutes_form(text: str) -> str:
    """`text` as Azure's own clients write it: PT<minutes>M (azure-ai-ml's ComputeInstance reads
    `idle_time_before_shutdown_minutes` only from that form), when it is whole minutes."""
    value = parse_duration(text)
    if value is None or value.total_seconds() % 60:
        return text
    return f"PT{int(value.total_seconds() // 60)}M"


def duration_problem(text: str) -> str | None:
    """Why `text` is not an idle-shutdown time Azure accepts, or None."""
    value = parse_duration(text)
    if value is None:
        if isinstance(text, str) and re.fullmatch(r"P(?:\d+Y)?(?:\d+M)?(?:\d+[WD])*(?:T.*)?", text):
            return f"{text} counts months or years, which have no fixed length; use days (P1D)"
        return (
            f"{text!r} is not an ISO 8601 duration (write minutes as PT60M, hours as PT2H, "
            "days as P1D)"
        )
    if value < MIN_IDLE or value > MAX_IDLE:
        return f"{text} is outside Azure's bounds for idle shutdown: at least PT15M, at most P3D"
    return None


def _value(token: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if token.isdigit():
        return int(token)
    if len(token) >= 3:
        for i, name in enumerate(names):
            if name.lower().startswith(token.lower()):
                return low + i
    return None


def _field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    for term in text.split(","):
        m = _TERM_RE.fullmatch(term)
        if m is None:
            return f"{name} field {text!r} is not NCrontab syntax"
        if m.group("step") is not None and int(m.group("step")) == 0:
            return f"{name} field {text!r}: a step must be at least 1"
        if m.group("range") == "*":
            continue
        for part in m.group("range").split("-"):
            number = _value(part, low, high, names)
            if number is None:
                return f"{name} field {text!r}: {part!r} is not a number or a name"
            if not low <= number <= high:
                return f"{name} field {text!r}: {number} is out of range {low}-{high}"
    return None


def cron_problem(expression: object) -> str | None:
    """Why `expression` is not a five-field NCrontab expression, or None."""
    if not isinstance(expression, str):
        return "a cron expression must be a string"
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        return (
            f"cron {expression!r} has {len(parts)} fields; Azure takes exactly five "
            "(minute hour day-of-month month day-of-week)"
        )
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        problem = _field_problem(part, name, low, high, names)
        if problem:
            return f"cron {expression!r}: {problem}"
    return None


@lru_cache(maxsize=1)
def windows_time_zones() -> frozenset[str]:
    """The Windows time zone ids a schedule's `timeZone` may name."""
    from tzlocal.windows_tz import win_tz

    return frozenset(win_tz) | _RETIRED_WINDOWS_ZONES


def time_zone_problem(zone: str) -> str | None:
    """Why `zone` is not a Windows time zone id, or None (e.g. 'W. Europe Standard Time')."""
    zones = windows_time_zones()
    if zone in zones:
        return None
    from difflib import get_close_matches

    close = get_close_matches(str(zone), sorted(zones), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    iana = " (Azure takes Windows ids, not IANA names)" if "/" in str(zone) else ""
    return f"{zone!r} is not a Windows time zone id{iana}{hint}"
