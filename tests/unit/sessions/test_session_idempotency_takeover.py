"""Issue #13 for sessions: a session create whose process was killed (a gunicorn worker
SIGKILLed mid-create) leaves its Idempotency-Key claim; the client's retry takes it over
at once and, like a job's, the session's Slurm job is looked up by its tag right then and
adopted — not at the worker's next cycle, and never submitted a second time. A create
killed before its sbatch started fails at once. Slurm faked; the claim's process is a
real process of this machine that is gone (tests/unit/jobs/test_idempotency_dead_owner.py).
"""

from __future__ import annotations

import pytest

from adapters.scheduler import JobSpec
from portal import db
from portal.models import Session
from portal.services.core.states import session_tag
from tests.support.killedcreate import as_killed_mid_create, key_headers
from tests.unit.jobs.test_idempotency_dead_owner import _claim, _dead_process
from tests.unit.sessions.sessionfakes import make_member, register_jupyter

BODY = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4", "end": "hours",
        "hours": "2", "allow_all": True, "start": "now", "ssh_auth": "none"}


@pytest.fixture
def headers(image_app, backend):
    with image_app.app_context():
        user = make_member("ursula")
        register_jupyter()
        db.session.remove()
    return key_headers(image_app, user, "session-killed-1")


def _killed_mid_create(app, client, headers, backend, *, attempt_started: bool) -> tuple:
    """Create the session, then make it look as a create killed mid-sbatch (or, not
    `attempt_started`, before its sbatch) left it: "submitting" without a Slurm id, Slurm
    without its job, the claim unanswered and held by a process that is gone. Returns
    (session id, its tag)."""
    created = client.post("/api/v1/sessions", json=BODY, headers=headers)
    assert created.status_code == 201, created.get_json()
    session_id = created.get_json()["id"]
    with app.app_context():
        session = db.session.get(Session, session_id)
        as_killed_mid_create(session, attempt_started=attempt_started)
        tag = session_tag(session)
        db.session.commit()
    backend.scheduler.jobs.clear()
    _claim(app, _dead_process())
    return session_id, tag


def test_a_retry_adopts_the_killed_creates_session_job_by_its_tag_at_once(
        image_app, client, headers, backend):
    session_id, tag = _killed_mid_create(image_app, client, headers, backend,
                                         attempt_started=True)
    fake = backend.scheduler
    # The orphaned sbatch got through while the client waited to retry.
    slurm_id = fake.submit(JobSpec(script="#!/bin/sh\n", job_name="lab-1", account="proja",
                                   comment=tag), as_user="ursula")
    retry = client.post("/api/v1/sessions", json=BODY, headers=headers)
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    answer = retry.get_json()
    assert answer["id"] == session_id and answer["deployment_id"] == slurm_id
    assert answer["state"] == "pending"
    assert fake.count("sbatch") == 2  # the first create's and the orphan's; none since
    assert [j.id for j in fake.jobs.values() if j.comment == tag] == [slurm_id]


def test_a_retry_while_slurm_has_nothing_yet_leaves_the_session_submitting(
        image_app, client, headers, backend):
    session_id, tag = _killed_mid_create(image_app, client, headers, backend,
                                         attempt_started=True)
    retry = client.post("/api/v1/sessions", json=BODY, headers=headers).get_json()
    assert retry["id"] == session_id and retry["state"] == "submitting"
    assert backend.scheduler.count("squeue") >= 1  # it was asked by its tag
    assert backend.scheduler.count("sbatch") == 1 and backend.scheduler.jobs == {}


def test_a_retry_of_a_create_killed_before_its_sbatch_fails_the_session_at_once(
        image_app, client, headers, backend):
    session_id, _ = _killed_mid_create(image_app, client, headers, backend,
                                       attempt_started=False)
    retry = client.post("/api/v1/sessions", json=BODY, headers=headers).get_json()
    assert retry["id"] == session_id and retry["state"] == "failed"
    assert "never reached Slurm" in retry["error"]
    assert backend.scheduler.count("sbatch") == 1 and backend.scheduler.jobs == {}
