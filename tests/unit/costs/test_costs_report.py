"""Cost analysis: SQL aggregation, who sees what, bad ranges, pages, CSV, API, CLI."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from portal import cli, cli_common, db
from portal.services import ServiceError, costs, tokens, users
from tests.conftest import PASSWORD, csrf_from
from tests.unit.costs.costhelpers import add_record

MARCH = datetime(2026, 3, 10, 12, 0)


def seed(app):
    with app.app_context():
        # 10 billing × 3600 s = 0.10; 25 × 7200 s = 0.50; 100 × 360 s = 0.10
        add_record(1, billing=10, elapsed=3600, end=MARCH, service="job")
        add_record(2, billing=25, elapsed=7200, end=datetime(2026, 3, 20), service="session",
                   gpus=2, model="a100", user="daemon")
        add_record(3, billing=100, elapsed=360, end=datetime(2026, 5, 1, 0, 0, 1),
                   service="schedule", gpus=1, model="h100")
        add_record(4, account="other", billing=1000, elapsed=3600, end=MARCH, service="shell",
                   user="root")
        add_record(5, billing=1000, elapsed=3600, end=datetime(2025, 12, 31, 23, 59, 59))
        db.session.commit()


def q(**args):
    return costs.parse_query({"from": "2026-01-01", "to": "2026-12-31", **args})


def test_aggregates_by_month_and_group(app, people, project):
    seed(app)
    with app.test_request_context("/"):
        rep = costs.report(people["max"], q())
        assert rep.periods == ["2026-03", "2026-05"] and rep.keys == ["tproj"]
        assert rep.total == Decimal("0.7000") and rep.jobs == 3
        assert rep.by_period == {"2026-03": Decimal("0.6000"), "2026-05": Decimal("0.1000")}
        by_model = costs.report(people["max"], q(by="gpu_model"))
        assert by_model.by_key == {"a100": Decimal("0.5"), "h100": Decimal("0.1"),
                                   "": Decimal("0.1")}
        by_service = costs.report(people["max"], q(by="service", period="year"))
        assert by_service.periods == ["2026"]
        assert set(by_service.by_key) == {"job", "session", "schedule"}
        by_user = costs.report(people["max"], q(by="user", service="session"))
        assert by_user.by_key == {"daemon": Decimal("0.5")}
        weeks = costs.report(people["max"], q(period="week"))
        assert weeks.periods == ["2026-03-09", "2026-03-16", "2026-04-27"]  # Mondays
        row = next(r for r in weeks.rows if r["period"] == "2026-03-16")
        assert row["gpu_hours"] == Decimal("4.00") and row["cpu_hours"] == Decimal("2.00")
        chart = weeks.chart()
        assert chart["labels"][0] == "2025-12-29" and len(chart["labels"]) == 53  # every week
        assert chart["datasets"][0]["label"] == "tproj"
        assert sum(chart["datasets"][0]["data"]) == pytest.approx(0.7)
        assert costs.timeline(q(period="month"))[:2] == ["2026-01", "2026-02"]
        assert costs.timeline(q(period="year")) == ["2026"]


def test_who_sees_what(app, people, project):
    seed(app)
    with app.test_request_context("/"):
        assert costs.report(people["otto"], q()).total == 0  # in no project
        assert costs.report(people["mia"], q()).total == Decimal("0.7")  # manager
        admin = costs.report(people["ada"], q())
        assert admin.by_key == {"other": Decimal("10"), "tproj": Decimal("0.7")}
        with pytest.raises(ServiceError) as err:
            costs.report(people["max"], q(project="other"))
        assert err.value.status == 404
        assert costs.report(people["ada"], q(project="other")).total == Decimal("10")


@pytest.mark.parametrize("args,code", [
    ({"from": "2026-05-01", "to": "2026-01-01"}, "reversed_range"),
    ({"from": "yesterday"}, "invalid_date"),
    ({"from": "1990-01-01", "to": "2026-01-01"}, "range_too_long"),
    ({"period": "day"}, "invalid_period"),
    ({"by": "colour"}, "invalid_group"),
    ({"service": "x"}, "invalid_service"),
])
def test_bad_queries(app, args, code):
    with app.test_request_context("/"):
        with pytest.raises(ServiceError) as err:
            costs.parse_query(args)
        assert err.value.code == code


def test_defaults_and_ten_years_fast(app, people, project):
    seed(app)
    with app.test_request_context("/"):
        default = costs.parse_query({}, today=date(2026, 11, 29))
        assert (default.start, default.end) == (date(2025, 12, 1), date(2026, 11, 29))
        started = time.perf_counter()
        rep = costs.report(people["ada"], costs.parse_query(
            {"from": "2016-01-01", "to": "2026-12-31", "period": "week"}))
        assert time.perf_counter() - started < 1.0
        assert rep.total == Decimal("20.7")


def test_csv(app, people, project):
    seed(app)
    with app.test_request_context("/"):
        text = costs.to_csv(costs.report(people["ada"], q(by="user")))
        lines = text.split("\r\n")
        assert lines[0] == "period,user,cost,jobs,gpu_hours,cpu_hours"
        assert "2026-03,root,10.0000,1,0.00,1.00" in lines


def _login(client, name):
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": name, "password": PASSWORD,
                                "csrf_token": csrf_from(page)})


def test_pages(app, client, people, project):
    seed(app)
    _login(client, "max")
    page = client.get("/costs/?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert 'data-testid="cost-chart"' in page and "tproj" in page and "other" not in page
    assert "0.70" in page and 'id="cost-data"' in page
    bad = client.get("/costs/?from=2026-05-01&to=2026-01-01").get_data(as_text=True)
    assert 'data-testid="cost-error"' in bad and "after the end date" in bad
    csv_answer = client.get("/costs/export.csv?from=2026-01-01&to=2026-12-31&by=service")
    assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"
    assert "session" in csv_answer.get_data(as_text=True)
    assert client.get("/costs/export.csv?from=x").status_code == 400
    assert client.get("/admin/prices/").status_code == 403
    assert client.get("/costs/vendor/chart.js").status_code in (200, 404)
    menu = client.get("/costs/").get_data(as_text=True)
    assert 'data-menu="cost-analysis"' in menu and 'data-menu="admin-prices"' not in menu


def test_prices_page(app, client, people, weights):
    _login(client, "ada")
    page = client.get("/admin/prices/").get_data(as_text=True)
    assert 'data-testid="price-form"' in page and "GRES/gpu=10.0" in page
    token = csrf_from(page)
    bad = client.post("/admin/prices/", data={"csrf_token": token, "resource": "cpu",
                                              "hourly": "-3"}, follow_redirects=True)
    assert "cannot be negative" in bad.get_data(as_text=True)
    bad = client.post("/admin/prices/", data={"csrf_token": token, "resource": "cpu",
                                              "hourly": "cheap"}, follow_redirects=True)
    assert "must be a number" in bad.get_data(as_text=True)
    ok = client.post("/admin/prices/", data={"csrf_token": token, "resource": "gpu:a100",
                                             "hourly": "0.25"}, follow_redirects=True)
    text = ok.get_data(as_text=True)
    assert "0.2500" in text and "GRES/gpu:a100=25" in text
    applied = client.post("/admin/prices/apply", data={"csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "applied to" in applied and weights.parts["gpu"]["GRES/gpu:a100"] == "25"


def _bearer(app, name):
    with app.test_request_context("/"):
        _token, plain = tokens.create_token(users.get_user(name), "t")
    return {"Authorization": f"Bearer {plain}"}


def test_api(app, client, people, project, weights):
    seed(app)
    max_, ada = _bearer(app, "max"), _bearer(app, "ada")
    got = client.get("/api/v1/costs?from=2026-01-01&to=2026-12-31&by=gpu_model",
                     headers=max_).json
    assert got["total"] == "0.7000" and got["by_key"]["a100"] == "0.5000"
    assert got["scale"] == "100"
    bad = client.get("/api/v1/costs?from=2026-05-01&to=2026-01-01", headers=max_)
    assert bad.status_code == 400 and bad.json["error"]["code"] == "reversed_range"
    assert client.get("/api/v1/costs").status_code == 401
    refused = client.post("/api/v1/prices", json={"resource": "cpu", "hourly": "1"},
                          headers=max_)
    assert refused.status_code == 403
    for body in ({"resource": "cpu", "hourly": "-1"}, {"resource": "cpu", "hourly": "x"},
                 {"resource": "ram", "hourly": "1"}, []):
        answer = client.post("/api/v1/prices", json=body, headers=ada)
        assert answer.status_code == 400
    made = client.post("/api/v1/prices", json={"resource": "cpu", "hourly": "0.02"},
                       headers=ada)
    assert made.status_code == 201 and made.json["billing_weight"] == "2"
    listed = client.get("/api/v1/prices", headers=max_).json
    assert listed[0]["resource"] == "cpu" and listed[0]["hourly"] == "0.0200"
    spec = client.get("/api/v1/openapi.json").json
    assert {"/costs", "/prices"} <= set(spec["paths"])


def test_cli(app, monkeypatch, people, project, weights):
    seed(app)
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    run = CliRunner().invoke
    bad = run(cli.main, ["price", "set", "cpu", "ten"])
    assert bad.exit_code == 1 and "must be a number" in bad.output
    assert run(cli.main, ["price", "set", "cpu", "--", "-1"]).exit_code == 1
    done = run(cli.main, ["price", "set", "gpu:a100", "0.10"])
    assert done.exit_code == 0 and "billing weight 10" in done.output, done.output
    listed = run(cli.main, ["price", "list"])
    assert "gpu:a100" in listed.output and "0.1000" in listed.output
    assert "gpu:a100" in run(cli.main, ["price", "history"]).output
    dry = run(cli.main, ["price", "apply", "--dry-run"])
    assert "would change" in dry.output and weights.sets == []
    assert "applied to" in run(cli.main, ["price", "apply"]).output
    shown = run(cli.main, ["costs", "--from", "2026-01-01", "--to", "2026-12-31"])
    assert shown.exit_code == 0 and "total 10.7000" in shown.output, shown.output
    rev = run(cli.main, ["costs", "--from", "2026-05-01", "--to", "2026-01-01"])
    assert rev.exit_code == 1 and "after the end date" in rev.output


def test_chart_folds_small_keys_into_others(app, people):
    with app.app_context():
        for i in range(13):
            add_record(100 + i, user=f"u{i:02d}", billing=100 + i, end=MARCH)
        db.session.commit()
    with app.test_request_context("/"):
        rep = costs.report(people["ada"], q(by="user"))
        chart = rep.chart("others")
        assert len(chart["datasets"]) == costs.CHART_KEYS + 1
        assert chart["datasets"][0]["label"] == "u12"  # the biggest first
        assert chart["datasets"][-1]["label"] == "others"
        assert sum(chart["totals"]["data"]) == pytest.approx(float(rep.total))
