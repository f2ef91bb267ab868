"""Idle reclaim (issue #17, item 2): the worker step with recorded sampler data (nvidia-smi
readings as the sampler writes them), the owner's banner and Keep on the session page, and
the admin's policy page."""

from __future__ import annotations

import re
from datetime import timedelta

from portal import db, worker
from portal.models import AuditEvent, NotificationSent, Session, SessionIdle
from portal.services import idle, monitoring
from portal.services.users import create_user
from tests.support.fakescheduler import FakeScheduler
from tests.support.members import make_member
from tests.unit.account.test_notify_delivery import mailing, smtp  # noqa: F401 - fixtures

# Recorded `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
# --format=csv,noheader,nounits -l 10` lines of a 2-GPU job: training, then left alone.
BUSY = "0, 97, 30210, 81920\n1, 88, 29874, 81920"
IDLE = "0, 0, 30210, 81920\n1, 2, 29874, 81920"


def _parse(text):
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "session_monitor", pathlib.Path("jobscripts/session_monitor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_nvidia_csv(text)


def _slurm() -> FakeScheduler:
    """Slurm running the three sessions' jobs (see _world) for alice."""
    fake = FakeScheduler()
    for jid in ("700", "701", "702"):
        fake.add(jid, user="alice")
    return fake


def _samples(session_id, start, minutes_busy, minutes_idle):
    """One sample every 10 s, as the sampler writes them, stored like the worker does."""
    samples, n = [], 0
    for i in range((minutes_busy + minutes_idle) * 6):
        n += 1
        text = BUSY if i < minutes_busy * 6 else IDLE
        t = (start + timedelta(seconds=10 * i)).timestamp()
        samples.append({"n": n, "t": t, "dt": 10.0, "src": "proc", "cpu": 0.1,
                        "gpu": _parse(text)})
    monitoring._store(session_id, samples)


def _world(now):
    ursula = make_member("ursula", unix_user="alice")
    ursula.email = "ursula@example.org"
    admin, _ = create_user("root-admin", unix_user="nobody", password="x" * 12, is_admin=True)
    project = ursula.memberships[0].project
    common = {"user_id": ursula.id, "project_id": project.id, "account": "proja",
              "image": "jupyter", "cpus": 1, "mem_gb": 1, "state": "running"}
    start = now - timedelta(hours=2)
    gpu = Session(uuid="g1", name="gpu-left", slurm_job_id="700", gpu_count=2,
                  started_at=start, **common)
    used = Session(uuid="c1", name="cpu-used", slurm_job_id="701", started_at=start, **common)
    blind = Session(uuid="g2", name="gpu-blind", slurm_job_id="702", gpu_count=1,
                    started_at=start, writable=True, **common)
    db.session.add_all([gpu, used, blind])
    db.session.commit()
    # busy for 88 minutes, then 32 under the threshold: the metric buckets are whole
    # minutes, so the idle clock starts up to a minute after the last busy sample; with
    # exactly 30 the first warning point (30 min) was reached or not by the wall clock's
    # seconds (issue #19)
    _samples(gpu.id, start, 88, 32)
    db.session.commit()
    idle.set_policy(admin, project.id, limit_s=3600, warn_s=[1800, 2700], gpu_threshold=5)
    return ursula, gpu, used, blind


def _step(scheduler, now):
    return idle.worker_step(scheduler, now=now)


def test_the_worker_warns_then_ends_an_idle_gpu_session_from_recorded_samples(app, mailing):  # noqa: F811
    with app.test_request_context():
        now = db.utcnow().replace(microsecond=0)
        ursula, gpu, used, _blind = _world(now)
        idle.forget_memo()
        assert idle.touch(used.id, "terminal", now=now - timedelta(minutes=5))
        assert not idle.touch(used.id, "terminal")  # coarse: no second write this minute
        scheduler = _slurm()
        first = _step(scheduler, now + timedelta(seconds=30))
        assert first == {"idle_warned": 1}, first
        assert _step(scheduler, now + timedelta(minutes=1)) == {}  # sent once
        assert _step(scheduler, now + timedelta(minutes=16)) == {"idle_warned": 1}
        idle.forget_memo()  # a minute later: the terminal is used again
        assert idle.touch(used.id, "terminal", now=now + timedelta(minutes=20))
        ended = _step(scheduler, now + timedelta(minutes=31))
        assert ended == {"idle_ended": 1}, ended
        assert scheduler.cancelled == [("700", "alice")]
        db.session.expire_all()
        assert db.session.get(Session, gpu.id).state == "deleting"
        assert db.session.get(Session, used.id).state == "running"  # used via its terminal
        events = db.session.query(AuditEvent).filter_by(action="session.idle_end").all()
        assert [e.target for e in events] == [f"session:{gpu.id}"]
        sent = db.session.query(NotificationSent).filter_by(kind="idle_warning").all()
        assert len(sent) == 3 and all(s.user_id == ursula.id for s in sent)
    subjects = mailing.subjects()
    assert subjects.count("Your session gpu-left is idle") == 2
    assert "Your idle session gpu-left was ended" in subjects
    last = mailing.messages[-1].get_content()
    assert "Files in the workspace are kept" in last


def test_a_gpu_session_without_telemetry_is_left_alone(app, mailing):  # noqa: F811
    with app.test_request_context():
        now = db.utcnow()
        _world(now)
        scheduler = _slurm()
        _step(scheduler, now + timedelta(hours=5))
        assert ("702", "alice") not in scheduler.cancelled


def test_banner_and_keep_on_the_session_page(app, client, auth, mailing):  # noqa: F811
    with app.test_request_context():
        now = db.utcnow()
        _ursula, gpu, _used, _blind = _world(now)
        gpu_id = gpu.id
        _step(_slurm(), now)
    auth.login("ursula")
    page = client.get(f"/sessions/{gpu_id}").get_data(as_text=True)
    assert 'data-testid="idle-banner"' in page and 'data-testid="idle-keep"' in page
    assert "Files in the workspace are kept" in page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post(f"/sessions/{gpu_id}/keep", data={"csrf_token": token},
                         follow_redirects=True).get_data(as_text=True)
    assert "Kept: the idle clock starts again now." in answer
    assert 'data-testid="idle-banner"' not in answer
    # a second Keep in the same idle period (no use since) is refused in words
    again = client.post(f"/sessions/{gpu_id}/keep", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Keep was used already in this idle period" in again
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="session.idle_keep").count() == 1
        assert db.session.get(SessionIdle, gpu_id).kept_at is not None


def test_only_admins_set_the_policy_and_bad_values_change_nothing(app, client, auth,
                                                                   make_user):
    make_user("boss", admin=True)
    with app.test_request_context():
        make_member("ursula")
        project_id = make_member("mallory").memberships[0].project_id
    auth.login("ursula")
    token = auth.csrf()
    assert client.post(f"/admin/projects/{project_id}/idle",
                       data={"csrf_token": token, "limit_minutes": "1"}).status_code == 403
    auth.logout()
    auth.login("boss")
    page = client.get(f"/admin/projects/{project_id}/idle").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    ok = client.post(f"/admin/projects/{project_id}/idle", follow_redirects=True,
                     data={"csrf_token": token, "limit_minutes": "120",
                           "warn_minutes": "60, 105", "gpu_threshold": "5"})
    assert "Idle policy saved." in ok.get_data(as_text=True)
    bad = client.post(f"/admin/projects/{project_id}/idle", follow_redirects=True,
                      data={"csrf_token": token, "limit_minutes": "120",
                            "warn_minutes": "130", "gpu_threshold": "5"})
    assert "Warning points are" in bad.get_data(as_text=True)
    with app.app_context():
        policy = idle.policy_of(project_id)
        assert (policy.limit_s, policy.warn_s) == (7200, [3600, 6300])


def test_the_worker_registry_runs_idle_reclaim_before_notifications():
    names = [registered.name for registered in worker.STEPS]
    assert names.index("monitoring") < names.index("idle_reclaim") < names.index("notifications")
