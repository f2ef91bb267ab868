"""Issue 7: every listed action is in the operation log after doing it — login, logout,
failed login, activation, create/delete of session, job, template, schedule, key,
whitelist, image, and admin changes (image commits and approval decisions belong to the
orders/images work and are tested there)."""

from __future__ import annotations

from portal import db
from portal.models import AuditEvent, ProjectRole
from portal.services import (
    activation,
    jobdelete,
    jobtemplates,
    keys,
    public_images,
    qos,
    schedules,
    whitelists,
)
from portal.services import jobs as jobsvc
from portal.services import sessions as sessvc
from tests.support.fakes import FakeFiles
from tests.support.fakescheduler import FakeScheduler
from tests.unit.sessions.sessionfakes import FakeSshd, make_member, session_data

JOB = {"name": "train-1", "cpus": "1", "mem_gb": "1", "image": "base", "command": "true"}


def _actions():
    return [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]


def test_login_logout_and_failed_login_are_recorded(app, auth, make_user):
    make_user("ursula")
    auth.login(password="wrong password!")
    auth.login()
    auth.logout()
    with app.app_context():
        events = db.session.query(AuditEvent).order_by(AuditEvent.id).all()
        assert [e.action for e in events] == ["auth.login_failed", "auth.login", "auth.logout"]
        assert all(e.source_ip == "127.0.0.1" for e in events)


def test_every_create_and_delete_is_recorded(app, ctx, cluster_side, monkeypatch):
    app.config["IMAGE_CHECK_PATH"] = False
    app.config["ACTIVATION_REQUIRED"] = False
    jobs_backend = jobsvc.Backend(FakeScheduler(), FakeFiles())
    sessions_backend = jobsvc.Backend(FakeScheduler(first_id=500), FakeFiles())
    monkeypatch.setattr(jobsvc, "get_backend", lambda: jobs_backend)
    monkeypatch.setattr(sessvc, "get_backend", lambda: sessions_backend)
    monkeypatch.setattr(sessvc, "Sshd", FakeSshd)
    FakeSshd.prepared = []
    admin, _ = __import__("portal.services.users", fromlist=["x"]).create_user(
        "root1", unix_user=None, is_admin=True, require_unix=False)
    user = make_member("ursula", role=ProjectRole.MEMBER)

    cluster_side["accounts"].add_account("proja")
    activation.activate(user)
    image = public_images.register_image("jupyter", "/srv/images/jupyter", framework="x",
                                         services="jupyter", auth_methods="key", actor=admin)
    key, _ = keys.create_key(user, "laptop")
    keys.delete_key(user, key.id)
    wl, _ = whitelists.create_whitelist(user, "office", "10.0.0.0/8")
    whitelists.delete_whitelist(user, wl.id)
    job = jobsvc.create_job(user, JOB)
    jobdelete.delete_job(user, job.id)
    template = jobtemplates.create_template(user, {**JOB, "name": "nightly"})
    schedule = schedules.create_schedule(user, {"name": "every-minute", "cron": "* * * * *",
                                                "timezone": "UTC",
                                                "template_id": template.id})
    schedules.delete_schedule(user, schedule.id)
    jobtemplates.delete_template(user, template.id)
    session = sessvc.create_session(user, session_data())
    sessvc.delete_session(user, session.id)
    public_images.delete_image(image.id, actor=admin)
    qos.create_qos(admin, "gold", {"max_wall": "60"})

    actions = _actions()
    for expected in ("activation.activate", "image.register", "key.create", "key.delete",
                     "whitelist.create", "whitelist.delete", "job.create", "job.delete",
                     "template.create", "template.delete", "schedule.create",
                     "schedule.delete", "session.create", "session.delete", "image.delete",
                     "qos.create"):
        assert expected in actions, expected
    by_action = {e.action: e for e in db.session.query(AuditEvent)}
    assert by_action["job.create"].actor_name == "ursula"
    assert by_action["qos.create"].actor_name == "root1"
    assert by_action["job.create"].target == f"job:{job.id}"


def test_token_create_and_revoke_are_recorded(ctx, make_user):
    from portal.services import tokens

    user = db.session.merge(make_user("ursula"))
    record, _ = tokens.create_token(user, "laptop")
    tokens.revoke_token(user, record.id)
    assert _actions() == ["token.create", "token.revoke"]
