"""Azure's rules for idle shutdown and start/stop schedules, held against their sources.

- Idle shutdown bounds: azure-rest-api-specs machinelearningservices stable/2024-04-01,
  IdleShutdownSetting ("Minimum is 15 min, maximum is 3 days").
- Cron: the same spec's Cron.expression ("should follow NCronTab format"), five fields; the field
  ranges of atifaziz/NCrontab's CrontabFieldImpl (minute 0-59, hour 0-23, day 1-31, month 1-12
  or names, day of week 0-6 or names, Sunday = 0).
- Time zones: Cron.timeZone ("should follow Windows time zone format"); azure-ai-ml's own
  `TimeZone` enum (the ids its ComputeInstance schedules offer) is the oracle.
"""

from __future__ import annotations

import pytest

from provision.compute_rules import (
    cron_problem,
    duration_problem,
    parse_duration,
    time_zone_problem,
    windows_time_zones,
)


@pytest.mark.parametrize("text", ["PT15M", "PT60M", "PT1H30M", "P1D", "P3D", "PT72H"])
def test_durations_azure_accepts(text: str) -> None:
    assert duration_problem(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("60", "not an ISO 8601 duration"),
        ("60m", "not an ISO 8601 duration"),
        ("PT14M", "at least PT15M"),
        ("PT72H1M", "at most P3D"),
        ("P1M", "no fixed length"),  # months have no fixed length
    ],
)
def test_durations_azure_refuses(text: str, why: str) -> None:
    problem = duration_problem(text)
    assert problem is not None and why in problem


def test_parse_duration_is_exact() -> None:
    assert parse_duration("PT1H30M") is not None
    assert parse_duration("PT1H30M").total_seconds() == 5400  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "expression",
    ["0 18 * * *", "*/15 8-17 * * 1-5", "0 7 * * Mon-Fri", "0 0 1 JAN,jul *", "59 23 31 12 6"],
)
def test_ncrontab_expressions_azure_accepts(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("0 18 * *", "has 4 fields"),
        ("0 0 18 * * *", "has 6 fields"),  # NCrontab's seconds form: Azure takes five fields
        ("60 18 * * *", "minute field"),
        ("0 24 * * *", "hour field"),
        ("0 0 0 * *", "day of month field"),
        ("0 0 * 13 *", "month field"),
        ("0 0 * * 7", "day of week field"),
        ("0 0 * * Funday", "not a number or a name"),
        ("*/0 * * * *", "step must be at least 1"),
        ("0 18 ? * *", "not NCrontab syntax"),
    ],
)
def test_cron_expressions_azure_refuses(expression: str, why: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and why in problem


def test_every_time_zone_azure_ai_ml_offers_is_accepted() -> None:
    from azure.ai.ml.constants import TimeZone

    offered = {z.value for z in TimeZone}
    assert offered <= windows_time_zones()
    assert "UTC" in offered


@pytest.mark.parametrize(
    ("zone", "why"),
    [
        ("Europe/Berlin", "not IANA names"),
        ("Pacific Standard Tme", "did you mean 'Pacific Standard Time'"),
        ("CET", "not a Windows time zone id"),
    ],
)
def test_unknown_time_zones_are_refused(zone: str, why: str) -> None:
    problem = time_zone_problem(zone)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("text", "written"),
    [("PT2H", "PT120M"), ("P1D", "PT1440M"), ("PT60M", "PT60M"), ("PT15M30S", "PT15M30S")],
)
def test_idle_time_is_written_in_minutes_as_azure_clients_read_it(text: str, written: str) -> None:
    # azure-ai-ml's ComputeInstance._load_from_rest reads idle_time_before_shutdown_minutes only
    # from the PT<n>M form.
    from provision.compute_rules import minutes_form

    assert minutes_form(text) == written
