"""Issue #17, item 3: every notification arrives once, at a real SMTP server (aiosmtpd,
started here) and a real HTTP webhook receiver, in the recipient's language, and only the
kinds each user chose; the worker runs it as a guarded step."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from datetime import timedelta
from decimal import Decimal
from email.header import decode_header, make_header

import pytest

from portal import db, worker
from portal.models import (
    NotificationSent,
    Order,
    ProjectRole,
    Session,
    WalletTransaction,
)
from portal.services import ServiceError, notify
from tests.conftest import Auth
from tests.support.members import make_member
from tests.support.receivers import free_port, http_receiver, smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def hook():
    """A webhook receiver: its URL and the POSTs it was sent, in order."""
    with http_receiver() as (port, posts):
        yield f"http://127.0.0.1:{port}/hook", posts


@pytest.fixture
def mailing(app, smtp):
    port, inbox = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="portal@test",
                      NOTIFY_WEBHOOK_ALLOW_PRIVATE=True, NOTIFY_PORTAL_URL="http://portal")
    return inbox


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _world(hook_url):
    """ursula (member, English, e-mail + webhook) and mona (manager, zh-TW, e-mail) in
    proja, with one of every event waiting."""
    ursula = make_member("ursula")
    mona = make_member("mona", role=ProjectRole.MANAGER)
    ursula.email, mona.email, mona.locale = "ursula@example.org", "mona@example.org", "zh_TW"
    project = ursula.memberships[0].project
    project.end_date = (db.utcnow() + timedelta(days=3)).date()
    now = db.utcnow()
    common = {"user_id": ursula.id, "project_id": project.id, "account": "proja",
              "image": "jupyter", "cpus": 1, "mem_gb": 1}
    db.session.add_all([
        Session(uuid="r1", name="ready-one", state="running", slurm_job_id="900",
                started_at=now - timedelta(minutes=50), ready_at=now - timedelta(minutes=49),
                time_limit_min=60, **common),
        Session(uuid="e1", name="ended-one", state="ended", slurm_job_id="901",
                started_at=now - timedelta(hours=2), ended_at=now - timedelta(hours=1),
                **common),
        WalletTransaction(project_id=project.id, account="proja", kind="topup",
                          amount=Decimal("1.00"), occurred_at=now),
        WalletTransaction(project_id=project.id, account="proja", kind="charge",
                          amount=Decimal("-0.85"), occurred_at=now, job_id="901"),
        Order(kind="session", ref_id=1, user_id=ursula.id, project_id=project.id,
              account="proja", name="big-one", gpu_count=4, gpu_model="a100",
              approval="pending"),
        Order(kind="job", ref_id=2, user_id=ursula.id, project_id=project.id,
              account="proja", name="small-one", gpu_count=2, approval="approved",
              decided_at=now, decision_message="go ahead"),
    ])
    db.session.commit()
    notify.save_settings(ursula, list(notify.KINDS), True, hook_url)
    notify.save_settings(mona, ["approval_needed", "wallet_80", "wallet_100",
                                "project_ending"], True, "")
    return ursula, mona


def test_every_event_arrives_once_by_mail_and_webhook(app, mailing, hook):
    hook_url, calls = hook
    with app.test_request_context():
        ursula, _mona = _world(hook_url)
        secret, ursula_id = notify.setting_of(ursula).webhook_secret, ursula.id
        first = worker.run_step("notifications", worker._notifications,
                                worker.Cycle(scheduler=None))
        assert first["ok"], first
        for _ in range(2):  # the next cycles see the same events: nothing more is sent
            assert worker.run_step("notifications", worker._notifications,
                                   worker.Cycle(scheduler=None))["ok"]

    deadline = time.monotonic() + 10
    while len(mailing.messages) < 7 and time.monotonic() < deadline:
        time.sleep(0.1)
    by_to: dict[str, list] = {}
    for rcpt, message in mailing.envelopes:
        by_to.setdefault(rcpt[0], []).append(message)
    ursula_kinds = sorted(m["X-Portal-Event"].split()[0] for m in by_to["ursula@example.org"])
    assert ursula_kinds == ["approval_decided", "project_ending", "session_ended",
                            "session_ending", "session_ready"]
    mona_kinds = sorted(m["X-Portal-Event"].split()[0] for m in by_to["mona@example.org"])
    assert mona_kinds == ["approval_needed", "project_ending", "wallet_80"]
    assert len(mailing.messages) == 8  # once each, after three cycles

    ended = next(m for m in by_to["ursula@example.org"]
                 if m["X-Portal-Event"].startswith("session_ended"))
    assert _subject(ended) == "Your session ended-one has ended"
    assert "It cost 0.85." in ended.get_content()
    assert "http://portal/sessions/" in ended.get_content()
    wallet = next(m for m in by_to["mona@example.org"]
                  if m["X-Portal-Event"].startswith("wallet_80"))
    assert "錢包" in _subject(wallet) and "85" in _subject(wallet)  # zh-TW for mona

    assert sorted(call.json()["kind"] for call in calls) == ursula_kinds
    for call in calls:
        expected = hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
        assert call.headers["X-Portal-Signature"] == f"sha256={expected}"
    with app.app_context():
        rows = db.session.query(NotificationSent).all()
        assert len(rows) == 8
        assert {r.email_status for r in rows} == {"sent"}
        assert {r.webhook_status for r in rows if r.user_id == ursula_id} == {"sent"}


def test_a_claimed_event_is_never_sent_again_even_from_two_workers(app, mailing):
    with app.test_request_context():
        user = make_member("ursula")
        user.email = "ursula@example.org"
        db.session.commit()
        event = notify.Event(user, "project_ending", "project:1:end:2027-01-01",
                             {"project": "proja", "project_name": "P", "days": 3,
                              "end_date": "2027-01-01", "url": "/projects/1"})
        assert notify.deliver(event) == "sent"
        assert notify.deliver(event) == "duplicate"
    results = []

    def other_worker():
        with app.app_context():
            again = notify.Event(db.session.get(type(user), user.id), event.kind, event.key,
                                 event.data)
            results.append(notify.deliver(again))
            db.session.remove()

    threads = [threading.Thread(target=other_worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["duplicate"] * 3
    assert len(mailing.messages) == 1


def test_only_chosen_kinds_and_channels(app, mailing, hook):
    hook_url, calls = hook
    with app.test_request_context():
        ursula, _mona = _world(hook_url)
        notify.save_settings(ursula, ["session_ready"], False, hook_url)  # webhook only
        notify.worker_step()
    kinds = [call.json()["kind"] for call in calls]
    assert kinds == ["session_ready"]
    assert all(rcpt[0] != "ursula@example.org" for rcpt, _m in mailing.envelopes)


def test_a_down_smtp_server_is_recorded_not_retried_twice(app, hook):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(),
                      NOTIFY_TIMEOUT=2, NOTIFY_WEBHOOK_ALLOW_PRIVATE=True)
    with app.test_request_context():
        user = make_member("ursula")
        user.email = "u@example.org"
        db.session.commit()
        event = notify.Event(user, "project_ending", "project:9:end:x",
                             {"project_name": "P", "end_date": "x", "days": 1, "url": "/"})
        assert notify.deliver(event) == "failed"
        row = db.session.query(NotificationSent).one()
        assert row.email_status.startswith("failed: ConnectionRefusedError")


def test_webhook_addresses_and_settings_page(app, client):
    with app.test_request_context():
        make_member("ursula")
        for bad in ("ftp://example.org/x", "http://", "http://user:pw@example.org/",
                    "http://127.0.0.1:8080/internal", "http://10.1.2.3/", "http://[::1]/"):
            with pytest.raises(ServiceError) as err:
                notify.check_webhook_url(bad)
            assert err.value.code == "invalid_webhook", bad
        assert "private or local network" in str(
            pytest.raises(ServiceError, notify.check_webhook_url, "http://127.0.0.1/").value)
    auth = Auth(client)
    auth.login("ursula")
    page = client.get("/settings/profile").get_data(as_text=True)
    assert 'data-testid="notifications-form"' in page
    token = auth.csrf("/settings/profile")
    answer = client.post("/settings/notifications", follow_redirects=True, data={
        "csrf_token": token, "kinds": ["session_ready", "wallet_100"], "email": "on",
        "webhook_url": "http://169.254.169.254/latest"}).get_data(as_text=True)
    assert "private or local network" in answer
    answer = client.post("/settings/notifications", follow_redirects=True, data={
        "csrf_token": token, "kinds": ["session_ready", "wallet_100"], "email": "on",
        "webhook_url": ""}).get_data(as_text=True)
    assert "Notification settings saved." in answer
    with app.app_context():
        from portal.models import NotificationSetting

        row = db.session.query(NotificationSetting).one()
        assert row.kinds == ["session_ready", "wallet_100"] and row.email is True


def test_messages_render_in_the_worker_without_a_request(app):
    """The worker has an app context only: both languages render there."""
    with app.app_context():
        user = make_member("ursula")
        data = {"name": "s1", "project": "proja", "slurm_job_id": "5", "url": "/sessions/1"}
        assert notify.render(notify.Event(user, "session_ready", "k", data))[0] == \
            "Your session s1 is ready"
        user.locale = "zh_TW"
        assert notify.render(notify.Event(user, "session_ready", "k", data))[0] == \
            "您的工作階段 s1 已就緒"
