"""GPU rental overview (F5): the hour bucketing (pure, property-tested), the window and
peak hours, the sources (accounting table + cached queue), scope, page and API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import db
from portal.models import AccountingRecord
from portal.services import ServiceError
from portal.services import gpu_usage as gu
from tests.conftest import PASSWORD
from tests.unit.projects.conftest import job, put_jobs

T0 = datetime(2026, 11, 23, 0, 0)  # a Monday, naive UTC
H = timedelta(hours=1)


def test_a_two_gpu_job_for_half_an_hour_counts_one():
    a = gu.Allocation(T0 + 30 * timedelta(minutes=1), T0 + H, 2, "a100")
    assert gu.bucket([a], T0, 2) == {"a100": [1.0, 0.0]}


def test_an_allocation_across_hours_and_outside_the_window():
    a = gu.Allocation(T0 - H, T0 + 90 * timedelta(minutes=1), 4, "a100")
    b = gu.Allocation(T0 + 5 * H, T0 + 6 * H, 1, "h100")  # after the window
    assert gu.bucket([a, b], T0, 3) == {"a100": [4.0, 2.0, 0.0]}


ALLOC = st.builds(
    lambda s, d, g, m: gu.Allocation(T0 + timedelta(seconds=s),
                                     T0 + timedelta(seconds=s + d), g, m),
    st.integers(-3 * 3600, 30 * 3600), st.integers(0, 12 * 3600), st.integers(0, 8),
    st.sampled_from(["a100", "h100", "gpu"]))


@settings(max_examples=300)
@given(st.lists(ALLOC, max_size=12), st.integers(1, 30))
def test_hours_add_up_to_the_gpu_seconds_inside_the_window(allocs, hours):
    end = T0 + hours * H
    out = gu.bucket(allocs, T0, hours)
    for model in {a.model for a in allocs}:
        inside = sum(a.gpus * max(0.0, (min(a.end, end) - max(a.start, T0)).total_seconds())
                     for a in allocs if a.model == model)
        assert sum(out.get(model, [0.0])) == pytest.approx(inside / 3600, abs=1e-6)
    for model, series in out.items():
        assert len(series) == hours
        most = sum(a.gpus for a in allocs if a.model == model)
        assert all(-1e-9 <= v <= most + 1e-9 for v in series)


@settings(max_examples=200)
@given(ALLOC, st.integers(0, 12 * 3600), st.integers(1, 30))
def test_splitting_an_allocation_changes_nothing(a, cut, hours):
    mid = min(a.start + timedelta(seconds=cut), a.end)
    parts = [gu.Allocation(a.start, mid, a.gpus, a.model),
             gu.Allocation(mid, a.end, a.gpus, a.model)]
    whole, split = gu.bucket([a], T0, hours), gu.bucket(parts, T0, hours)
    for model in set(whole) | set(split):
        assert whole.get(model, [0.0] * hours) == pytest.approx(split.get(model, [0.0] * hours))


@given(st.one_of(st.integers(-5, 40), st.text(max_size=5), st.none(), st.booleans(),
                 st.floats(allow_nan=True)))
def test_days_are_one_to_31_or_a_clear_refusal(value):
    try:
        days = gu.parse_days(value)
    except ServiceError as exc:
        assert exc.code == "invalid_days" and "1 to 31" in str(exc.message)
        return
    assert 1 <= days <= 31
    assert value in (None, "") or str(value).strip() == str(days)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(1, 31), st.sampled_from(["UTC", "Asia/Taipei", "Asia/Kolkata",
                                            "America/New_York"]))
def test_the_window_ends_with_the_current_local_hour(now, days, zone):
    start, hours = gu.window(now, days, ZoneInfo(zone))
    assert hours == days * 24
    end = start + hours * H
    assert end - H <= now < end
    assert end.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).minute == 0


def test_peak_hours_are_weekdays_nine_to_six_by_default(app):
    with app.app_context():
        peak = gu.peak_hours()
    assert peak.is_peak(datetime(2026, 11, 23, 9)) and peak.is_peak(datetime(2026, 11, 27, 17))
    assert not peak.is_peak(datetime(2026, 11, 23, 18)) and not peak.is_peak(
        datetime(2026, 11, 23, 8, 59))
    assert not peak.is_peak(datetime(2026, 11, 28, 12))  # Saturday


def test_peak_hours_and_timezone_come_from_config(app):
    app.config.update(GPU_PEAK_WEEKDAYS=[5, 6], GPU_PEAK_START_HOUR=20, GPU_PEAK_END_HOUR=24,
                      DEFAULT_TIMEZONE="Asia/Taipei")
    with app.app_context():
        assert gu.peak_hours() == gu.PeakHours(frozenset({5, 6}), 20, 24)
        assert str(gu.timezone()) == "Asia/Taipei"
        app.config.update(GPU_PEAK_START_HOUR=30, DEFAULT_TIMEZONE="Mars/Olympus")
        assert gu.peak_hours() == gu.PeakHours(frozenset(range(5)), 9, 18)  # bad: default
        assert str(gu.timezone()) == "UTC"


def _record(job_id, account, start, end, gpus=1, model="a100"):
    db.session.add(AccountingRecord(job_id=job_id, user="bin", account=account, state="COMPLETED",
                                    start_at=start, end_at=end, alloc_gpus=gpus,
                                    gpu_model=model))


@pytest.fixture
def usage_data(app, fake, project, people):
    """tproj: one finished 2-GPU hour, one running job; 'other': a 4-GPU hour."""
    now = datetime(2026, 11, 25, 10, 30)  # Wednesday, naive UTC
    with app.app_context():
        _record("101", "tproj", now - 2 * H - 30 * timedelta(minutes=1), now - 90 * timedelta(
            minutes=1), gpus=2)
        _record("102", "other", now - 5 * H, now - 4 * H, gpus=4, model="h100")
        running = now.replace(tzinfo=UTC) - 30 * timedelta(minutes=1)
        put_jobs([job(103, start_time=running.isoformat(), tres="cpu=1,mem=1G,gres/gpu=1,"
                      "gres/gpu:a100=1"),
                  job(101, start_time=running.isoformat(), tres="gres/gpu:a100=9"),  # dup
                  job(104, state="queued", tres="cpu=1,gres/gpu:a100=4")])
        db.session.commit()
    return now


def test_a_member_sees_their_projects_accounts_admins_the_cluster(app, usage_data, people):
    now = usage_data
    with app.test_request_context("/"):
        mine = gu.overview(people["max"], 1, now=now)
        everyone = gu.overview(people["ada"], 1, now=now)
        outsider = gu.overview(people["otto"], 1, now=now)
    assert mine["scope"] == "projects" and mine["accounts"] == ["tproj"]
    assert mine["models"] == ["a100"]
    by_start = {r["start"][:13]: r for r in mine["hours"]}
    assert by_start["2026-11-25T08"]["gpus"]["a100"] == 2.0  # 08:00-09:00, 2 GPUs
    assert by_start["2026-11-25T09"]["gpus"]["a100"] == 0.0
    assert by_start["2026-11-25T10"]["gpus"]["a100"] == 0.5  # running since 10:00, now 10:30
    assert by_start["2026-11-25T10"]["peak"] is True
    assert mine["summary"]["gpu_hours"] == 2.5  # job 101 counts once (accounting wins)
    assert everyone["scope"] == "cluster" and everyone["models"] == ["a100", "h100"]
    assert everyone["summary"]["gpu_hours"] == 6.5
    assert outsider["accounts"] == [] and outsider["summary"]["gpu_hours"] == 0


def test_api_and_its_errors(app, client, usage_data, people):
    from portal.services import tokens

    with app.app_context():
        token = tokens.create_token(people["max"], "t")[1]
    headers = {"Authorization": f"Bearer {token}"}
    for bad in ("0", "32", "seven", "-1", "1.5"):
        response = client.get(f"/api/v1/gpu-usage?days={bad}", headers=headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_days"
    response = client.get("/api/v1/gpu-usage?days=2", headers=headers)
    body = response.get_json()
    assert response.status_code == 200 and body["days"] == 2 and len(body["hours"]) == 48
    assert len(body["by_hour_of_day"]) == 24 and body["timezone"] == "UTC"
    assert client.get("/api/v1/gpu-usage").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/gpu-usage" in spec["paths"] and "GpuUsage" in spec["components"]["schemas"]


def test_page_has_the_chart_the_table_and_the_menu_link(app, client, auth, usage_data):
    auth.login("max", PASSWORD)
    page = client.get("/gpu-usage/").get_data(as_text=True)
    assert 'id="gpu-usage-chart"' in page and 'data-testid="hour-of-day"' in page
    assert 'href="/gpu-usage/"' in page  # the menu item
    raw = page.split('id="gpu-usage-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(raw)["accounts"] == ["tproj"]
    assert "/gpu-usage/vendor/chart.js" in page
    assert client.get("/gpu-usage/vendor/chart.js").status_code == 200
    assert client.get("/gpu-usage/vendor/nothing.js").status_code == 404
    bad = client.get("/gpu-usage/?days=99").get_data(as_text=True)
    assert 'data-testid="days-error"' in bad and "1 to 31" in bad
