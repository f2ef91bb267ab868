"""Where the efficiency figures and the stages show (issue #17 items 5-6): an ended job's
and session's page, the API's JSON, and the owner's "ended" message in English and zh-TW."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal import db
from portal.models import Efficiency, Job, Session
from portal.services import notify
from tests.support.members import ensure_project, make_member

NOW = datetime(2026, 12, 6, 2, 0, 0)
USED = {"elapsed_s": 100, "total_cpu_s": 150.0, "alloc_cpus": 2, "max_rss_mb": 256.0,
        "alloc_mem_mb": 1024, "gpus": 1, "gpu_util": 42.0, "gpu_samples": 12,
        "state": "COMPLETED"}


@pytest.fixture
def ended(app):
    with app.app_context():
        user = make_member("ursula")
        common = {"user_id": user.id, "project_id": ensure_project("proja").id,
                  "account": "proja", "image": "base", "gpu_count": 1,
                  "created_at": NOW - timedelta(minutes=6),
                  "submitted_at": NOW - timedelta(minutes=6) + timedelta(seconds=0.3),
                  "started_at": NOW - timedelta(minutes=5),
                  "ended_at": NOW - timedelta(minutes=1)}
        job = Job(uuid="j1", name="train", directory="/tmp/x", command="true",
                  slurm_job_id="101", state="completed", **common)
        ses = Session(uuid="s1", name="lab", slurm_job_id="102", state="ended",
                      container_up_at=NOW - timedelta(minutes=5) + timedelta(seconds=4),
                      ready_at=NOW - timedelta(minutes=5) + timedelta(seconds=4.2),
                      app_ready_at=NOW - timedelta(minutes=5) + timedelta(seconds=4.3),
                      **common)
        db.session.add_all([job, ses])
        db.session.commit()
        db.session.add_all([Efficiency(kind="job", ref_id=job.id, slurm_job_id="101", **USED),
                            Efficiency(kind="session", ref_id=ses.id, slurm_job_id="102",
                                       **USED)])
        db.session.commit()
        ids = job.id, ses.id
        db.session.remove()
    return ids


def test_pages_and_api_show_what_it_used(app, client, auth, ended):
    job_id, session_id = ended
    auth.login()
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'data-testid="efficiency"' in page and "75.0 %" in page and "25.0 %" in page
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "42.0 %" in page and 'data-testid="stage-app"' in page
    assert "Ready 64.3 s after you asked for it." in page


def test_api_json_and_openapi(app, client, auth, ended):
    job_id, session_id = ended
    with app.test_request_context():
        from portal.api.jobs import job_json
        from portal.services.sessiondisplay import session_json

        job = db.session.get(Job, job_id)
        assert job_json(job, full=True)["efficiency"]["cpu_percent"] == 75.0
        data = session_json(db.session.get(Session, session_id))
        assert [s["stage"] for s in data["stages"]] == ["queued", "started", "container",
                                                        "app"]
        assert all(s["at"] for s in data["stages"]) and data["time_to_ready_s"] == 64.3
        assert data["efficiency"]["memory_percent"] == 25.0
    spec = client.get("/api/v1/openapi.json").get_json()
    session_props = spec["components"]["schemas"]["Session"]["properties"]
    assert {"stages", "time_to_ready_s", "efficiency"} <= set(session_props)
    assert "cpu_percent" in spec["components"]["schemas"]["Efficiency"]["properties"]


@pytest.mark.parametrize("locale,words", [
    ("en", ["CPU: 75.0 % of 2 CPUs", "Memory: 25.0 % of 1024 MB", "GPU: 42.0 %"]),
    ("zh_TW", ["CPU：2 個 CPU 的 75.0 %", "記憶體：1024 MB 的 25.0 %",
               "GPU：1 張 GPU 平均 42.0 %"]),
])
def test_the_ended_message_carries_it(app, ended, locale, words):
    with app.test_request_context():
        user = make_member("owner2")
        user.locale = locale
        db.session.commit()
        figures = notify_figures()
        _subject, text = notify.render(notify.Event(user, "session_ended", "session:1", {
            "name": "lab", "project": "proja", "ended_at": "2026-12-06 01:59 UTC",
            "cost": "0.85", "url": "/sessions/1", "efficiency": figures}))
        for word in words:
            assert word in text


def notify_figures():
    from portal.services import efficiency

    return efficiency.figures(Efficiency(kind="session", ref_id=1, slurm_job_id="1", **USED))


def test_the_ended_message_waits_for_the_figures_a_while(app, ended):
    with app.test_request_context():
        db.session.query(Efficiency).delete()
        db.session.commit()
        events = notify.sessions_ended(NOW)
        assert events == []  # ended a minute ago: the charge and figures come from sacct
        later = notify.sessions_ended(NOW + notify.CHARGE_WAIT + timedelta(minutes=1))
        assert [e.data["efficiency"] for e in later] == [None]
