"""Operation log (F11): own vs all events, filters, paging, CSV export and the API."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import db
from portal.models import AuditEvent
from portal.services import ServiceError, oplog, tokens


def _event(actor, action, target="", at=None, ip="10.0.0.1", **details):
    db.session.add(AuditEvent(actor_id=actor.id if actor else None,
                              actor_name=actor.username if actor else "", source_ip=ip,
                              action=action, target=target, details=details,
                              at=at or datetime(2026, 5, 1, 12)))
    db.session.commit()


@pytest.fixture
def people(app, make_user):
    ursula, admin = make_user("ursula"), make_user("root1", admin=True)
    with app.app_context():
        ursula, admin = db.session.merge(ursula), db.session.merge(admin)
        _event(ursula, "job.create", "job:1", name="train")
        _event(ursula, "key.delete", "key:2", at=datetime(2026, 6, 2, 8), ip="192.168.1.9")
        _event(admin, "qos.create", "gold", at=datetime(2026, 6, 3, 9))
        _event(None, "auth.login_failed", "mallory", ip="203.0.113.5")
    return {"ursula": "ursula", "admin": "root1"}


def _user(name):
    from portal.services import users

    return users.get_user(name)


def _actions(user, **args):
    page = oplog.page_of(user, oplog.parse_filters(args))
    return [e.action for e in page.events]


def test_users_see_their_own_and_admins_everything(app, people):
    with app.test_request_context():
        assert sorted(_actions(_user("ursula"))) == ["job.create", "key.delete"]
        assert len(_actions(_user("root1"))) == 4
        # a user's actor filter is ignored: still only their own
        assert "qos.create" not in _actions(_user("ursula"), actor="root1")


@pytest.mark.parametrize("args,expected", [
    ({"from": "2026-06-01"}, {"key.delete", "qos.create"}),
    ({"to": "2026-06-02"}, {"job.create", "key.delete", "auth.login_failed"}),
    ({"from": "2026-06-02", "to": "2026-06-02"}, {"key.delete"}),
    ({"actor": "root1"}, {"qos.create"}),
    ({"action": "key.delete"}, {"key.delete"}),
    ({"action": "auth."}, {"auth.login_failed"}),
    ({"q": "TRAIN"}, {"job.create"}),
    ({"q": "mallory"}, {"auth.login_failed"}),
    ({"ip": "192.168.1.9"}, {"key.delete"}),
    ({"ip": "203.0."}, {"auth.login_failed"}),
    ({"q": "%"}, set()),
    ({"from": "2026-06-02T08:00:00Z", "to": "2026-06-02T08:00:01+00:00"}, {"key.delete"}),
])
def test_filters(app, people, args, expected):
    with app.test_request_context():
        assert set(_actions(_user("root1"), **args)) == expected


@pytest.mark.parametrize("args,code", [
    ({"from": "2026-06-02", "to": "2026-06-01"}, "invalid_range"),
    ({"from": "yesterday"}, "invalid_date"),
    ({"to": "2026-13-01"}, "invalid_date"),
])
def test_bad_ranges_are_refused_clearly(app, args, code):
    with app.test_request_context(), pytest.raises(ServiceError) as err:
        oplog.parse_filters(args)
    assert err.value.code == code


def test_ten_year_range_answers_fast_and_pages(app, make_user):
    user = make_user("ursula")
    with app.app_context():
        user = db.session.merge(user)
        start = datetime(2020, 1, 1)
        db.session.add_all(AuditEvent(actor_id=user.id, actor_name="ursula", action="x.y",
                                      target=str(i), details={}, at=start + timedelta(days=i))
                           for i in range(3000))
        db.session.commit()
    with app.test_request_context():
        began = time.monotonic()
        filters = oplog.parse_filters({"from": "2019-01-01", "to": "2028-12-31"})
        first = oplog.page_of(_user("ursula"), filters, 1)
        last = oplog.page_of(_user("ursula"), filters, 60)
        assert time.monotonic() - began < 1.0
    assert len(first.events) == 50 and first.has_next and first.events[0].target == "2999"
    assert len(last.events) == 50 and not last.has_next and last.events[-1].target == "0"


def test_csv_quotes_commas_quotes_newlines_and_defuses_formulas(app, client, auth, make_user):
    user = make_user("ursula")
    with app.app_context():
        user = db.session.merge(user)
        _event(user, "job.create", '=HYPERLINK("http://x")', note='a, "b"\nc')
        _event(user, "key.create", "-1+2", at=datetime(2026, 5, 2), name="@SUM(A1)")
    auth.login()
    response = client.get("/account/log.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == oplog.HEADER
    by_action = {r[3]: r for r in rows[1:]}
    assert by_action["job.create"][4] == "'=HYPERLINK(\"http://x\")"
    assert by_action["job.create"][5] == '{"note": "a, \\"b\\"\\nc"}'
    assert by_action["key.create"][4] == "'-1+2"
    assert "auth.login" in by_action  # the login itself
    bad = client.get("/account/log.csv?from=2026-02-01&to=2026-01-01")
    assert bad.status_code == 400 and b"reversed" in bad.data


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_safe_cell_never_starts_a_formula(value):
    cell = oplog.safe_cell(value)
    assert not cell.startswith(("=", "+", "-", "@"))
    assert cell == value or cell == "'" + value


@given(st.text(max_size=30), st.text(max_size=30))
@settings(max_examples=100, deadline=None)
def test_parse_filters_refuses_or_accepts_anything_without_crashing(start, end):
    try:
        filters = oplog.parse_filters({"from": start, "to": end})
    except ServiceError as exc:
        assert exc.code in ("invalid_date", "invalid_range")
    else:
        if filters.start and filters.end:
            assert filters.start < filters.end


def test_page_filters_and_reversed_range_message(app, client, auth, people):
    auth.login("root1")
    page = client.get("/account/log?action=qos.create").get_data(as_text=True)
    assert 'data-action="qos.create"' in page and 'data-action="job.create"' not in page
    page = client.get("/account/log?from=2026-07-01&to=2026-01-01").get_data(as_text=True)
    assert 'data-testid="filter-error"' in page and "reversed" in page
    assert client.get("/account/log?page=abc").status_code == 200


def test_api_same_rules(app, client, people):
    with app.app_context():
        _, mine = tokens.create_token(_user("ursula"), "t")
        _, theirs = tokens.create_token(_user("root1"), "t")
    body = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {mine}"}).get_json()
    assert {e["action"] for e in body["events"]} >= {"job.create", "key.delete"}
    assert "qos.create" not in {e["action"] for e in body["events"]}
    body = client.get("/api/v1/audit?actor=root1&action=qos.create&per_page=1",
                      headers={"Authorization": f"Bearer {theirs}"}).get_json()
    assert [e["target"] for e in body["events"]] == ["gold"] and body["per_page"] == 1
    bad = client.get("/api/v1/audit?from=2026-02-01&to=2026-01-01",
                     headers={"Authorization": f"Bearer {theirs}"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_range"
    assert client.get("/api/v1/audit").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/audit" in spec["paths"] and "AuditEvent" in spec["components"]["schemas"]


def test_log_is_append_only(app, people):
    with app.app_context():
        event = db.session.query(AuditEvent).first()
        event.target = "changed"
        with pytest.raises(RuntimeError):
            db.session.commit()
        db.session.rollback()

