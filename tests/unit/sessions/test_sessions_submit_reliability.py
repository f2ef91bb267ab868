"""Issue #13 for sessions: no DB transaction while files are written and sbatch runs, a
503 naming the outage, no resubmission after a lost answer, and the duplicate sweep."""

from __future__ import annotations

from datetime import timedelta

from adapters.errors import SlurmUnreachable
from adapters.scheduler import JobState
from portal import db
from portal.models import AuditEvent, ClusterSnapshot, Session
from portal.services import duplicates, sessionsync
from portal.services import sessions as svc
from tests.unit.sessions.sessionfakes import session_data

SOCKET_TIMEOUT = SlurmUnreachable(
    "Batch job submission failed: Socket timed out on send/recv operation", ["sbatch"],
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n")


def test_no_transaction_is_open_while_session_files_are_written_and_sbatch_runs(
        world, monkeypatch):
    backend, seen = world["backend"], []
    for obj, name in ((backend.files, "make_dirs"), (backend.files, "write"),
                      (backend.scheduler, "submit")):
        real = getattr(obj, name)

        def watched(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, db.session().in_transaction()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(obj, name, watched)
    session = svc.create_session(world["ursula"], session_data())
    assert session.state == "pending" and seen[-1][0] == "submit"
    assert not any(open_ for _, open_ in seen), seen


def test_an_unanswered_session_is_503_then_adopted_or_failed_never_resubmitted(world):
    backend = world["backend"]
    backend.scheduler.fail_submit = SOCKET_TIMEOUT
    session = svc.create_session(world["ursula"], session_data())
    assert svc.submission_uncertain(session) and session.submit_ended_at is not None
    backend.scheduler.fail_submit = None
    sessionsync.sync_sessions(backend, [], now=db.utcnow() + timedelta(minutes=30))
    assert session.state == "submitting"  # the controller has not answered since
    db.session.add(ClusterSnapshot(data={"cluster": {}, "jobs": []}))
    db.session.commit()
    sessionsync.sync_sessions(backend, [], now=db.utcnow() + timedelta(seconds=90))
    assert session.state == "failed" and "never reached Slurm" in session.error
    assert backend.scheduler.calls.count("sbatch") == 1


def test_the_sweep_cancels_a_second_job_of_one_session(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    spec, user = (backend.scheduler.specs[session.slurm_job_id],
                  backend.scheduler.as_users[session.slurm_job_id])
    extra = backend.scheduler.submit(spec, as_user=user)  # the same --comment
    backend.scheduler.operator_cancel = lambda jid: backend.scheduler.delete(jid, as_user="op")
    assert duplicates.sweep(backend, backend.scheduler.snapshot()) == {"cancelled": 1}
    assert backend.scheduler.jobs[extra].state is JobState.CANCELLED
    assert backend.scheduler.jobs[session.slurm_job_id].state is JobState.QUEUED
    assert db.session.query(AuditEvent).filter_by(
        action="session.duplicate_cancelled").count() == 1
    assert db.session.get(Session, session.id).state == "pending"
