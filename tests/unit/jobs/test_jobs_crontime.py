"""Cron expressions, IANA timezones and DST (F8), and the words shown for a trigger."""

from datetime import datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services import crontime as ct


@pytest.mark.parametrize("text,normal", [
    ("0 20 * * *", "0 20 * * *"),
    ("  */15   *  * * 1-5 ", "*/15 * * * 1-5"),
    ("@daily", "0 0 * * *"),
    ("@HOURLY", "0 * * * *"),
    ("0 0 L * *", "0 0 L * *"),
])
def test_valid_expressions_are_normalised(text, normal):
    assert ct.normalize_cron(text) == normal


@pytest.mark.parametrize("text", [
    "", "* * * *", "* * * * * *", "61 * * * *", "*/0 * * * *", "0 20 * * * ; rm -rf /",
    "0 0 30 2 *", "@reboot", "0 20 * * MON$(id)", "０ ２０ * * *", "x" * 200, None,
])
def test_invalid_expressions_are_refused_with_a_code(text):
    with pytest.raises(ServiceError) as err:
        ct.normalize_cron(text)
    assert err.value.code == "invalid_cron"


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_cron_validator_never_crashes(text):
    try:
        normal = ct.normalize_cron(text)
    except ServiceError as exc:
        assert exc.code == "invalid_cron"
    else:
        assert len(normal.split(" ")) == 5 and croniter.is_valid(normal)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "Asia/Taipei;id",
                                  "asia/taipei", "Etc/GMT+99"])
def test_unknown_timezones_are_refused(name):
    with pytest.raises(ServiceError) as err:
        ct.zone(name)
    assert err.value.code == "invalid_timezone"


def _local(times, tz):
    return [ct.to_local(t, tz).strftime("%Y-%m-%d %H:%M%z") for t in times]


def test_spring_forward_gap_runs_later_once():
    ny = ct.zone("America/New_York")
    runs = ct.next_runs("30 2 * * *", ny, datetime(2024, 3, 9, 12), 3)
    assert _local(runs, ny) == ["2024-03-10 03:30-0400", "2024-03-11 02:30-0400",
                                "2024-03-12 02:30-0400"]


def test_fall_back_daily_run_happens_once_but_every_15_minutes_keeps_going():
    berlin = ct.zone("Europe/Berlin")
    daily = ct.next_runs("30 2 * * *", berlin, datetime(2024, 10, 26, 12), 2)
    assert _local(daily, berlin) == ["2024-10-27 02:30+0200", "2024-10-28 02:30+0100"]
    after = datetime(2024, 10, 26, 23, 50)  # 01:50 CEST
    quarter = ct.next_runs("*/15 * * * *", berlin, after, 10)
    gaps = {b - a for a, b in zip(quarter, quarter[1:], strict=False)}
    assert gaps == {timedelta(minutes=15)}, _local(quarter, berlin)


def test_runs_respect_until_and_between():
    utc = ct.zone("UTC")
    start = datetime(2025, 1, 1)
    assert len(ct.next_runs("0 * * * *", utc, start, 100, until=start + timedelta(hours=5))) == 5
    missed = ct.runs_between("* * * * *", utc, start, start + timedelta(minutes=10))
    assert missed[0] == start + timedelta(minutes=1) and len(missed) == 9


ZONES = ["UTC", "Asia/Taipei", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
         "Asia/Kolkata", "America/St_Johns"]
EXPRESSIONS = ["* * * * *", "*/7 * * * *", "30 2 * * *", "0 */3 * * *", "15 1 * * 0",
               "0 0 1 * *", "45 23 * * 1-5", "0 2,3 * * *"]


@given(st.sampled_from(ZONES), st.sampled_from(EXPRESSIONS),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 1, 1)))
@settings(max_examples=300, deadline=None)
def test_next_runs_are_strictly_increasing_future_instants_matching_the_cron(zone, expr, after):
    tz = ct.zone(zone)
    runs = ct.next_runs(expr, tz, after, 5)
    assert len(runs) == 5
    assert all(t > after for t in runs)
    assert runs == sorted(set(runs))
    for instant in runs:
        local = ct.to_local(instant, tz).replace(tzinfo=None)
        matches = croniter.match(expr, local)
        shifted = croniter.match(expr, local - timedelta(hours=1)) or croniter.match(
            expr, local - timedelta(minutes=30))  # a wall time skipped by DST runs later
        assert matches or shifted, (instant, local)


def test_description_in_both_languages():
    assert ct.describe("0 20 * * *") == "At 20:00"
    assert "20:00" in ct.describe("0 20 * * *", "zh_Hant_TW")
    assert ct.describe("*/5 * * * *").startswith("Every 5 minutes")


@given(st.text(max_size=70))
@settings(max_examples=300)
def test_timezone_validator_never_crashes(text):
    try:
        tz = ct.zone(text)
    except ServiceError as exc:
        assert exc.code == "invalid_timezone"
    else:
        assert tz.key == text.strip()


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_local_time_parser_never_crashes(text):
    from portal.services.schedules import parse_local_time

    try:
        value = parse_local_time(text, ct.zone("Asia/Taipei"), "Start")
    except ServiceError as exc:
        assert exc.code == "invalid_time"
    else:
        assert value is None or value.tzinfo is None


@pytest.mark.parametrize("text", ["0001-01-01T00:00", "9999-12-31T23:59", "2025-02-30T10:00"])
def test_out_of_range_local_times_are_refused(text):
    from portal.services.schedules import parse_local_time

    with pytest.raises(ServiceError):
        parse_local_time(text, ct.zone("Asia/Taipei"), "Start")
