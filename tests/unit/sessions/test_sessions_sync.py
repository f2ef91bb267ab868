"""The worker's session step with a fake Slurm: states from the cached squeue, sacct for
ended jobs, connection files checked against the job's nodes, failures with their log."""

from __future__ import annotations

from datetime import timedelta

from adapters.scheduler import JobState
from portal import db
from portal.services import sessionconn, sessionsync
from portal.services import sessions as svc
from tests.unit.sessions.sessionfakes import session_data, write_conn


def _sync(backend):
    return sessionsync.sync_sessions(backend, backend.scheduler.snapshot())


def test_pending_reason_then_starting_then_running(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.jobs[session.slurm_job_id].reason = "Resources"
    _sync(backend)
    assert session.state == "pending" and session.reason == "Resources"
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    _sync(backend)
    assert session.state == "starting" and session.nodes == "vm"
    write_conn(backend, session)
    assert _sync(backend) == {"changed": 1}
    assert session.state == "running" and session.host == "vm"
    assert sessionconn.decrypt_token(session) == "ab" * 24
    assert "ab" * 24 not in (session.token_enc or "")


def test_a_connection_file_naming_another_host_is_not_used(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    write_conn(backend, session, host="database.internal")
    _sync(backend)
    assert session.state == "starting" and session.host is None
    assert "not a node of the job" in session.error


def test_garbage_connection_file_is_refused(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    backend.files.write("x", f"{session.directory}/connection.json", b'{"host": "vm; rm"}')
    _sync(backend)
    assert session.state == "starting" and "unusable" in session.error


def test_failed_job_shows_the_end_of_its_log(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    log = "\n".join(f"line {i}" for i in range(50)) + "\nportal-session: FAILED: no jupyter\n"
    backend.files.write("x", f"{session.directory}/output.log", log)
    backend.scheduler.set_state(session.slurm_job_id, JobState.FAILED, exit_code=1)
    _sync(backend)
    assert session.state == "failed"
    assert session.error.endswith("FAILED: no jupyter") and "line 10" not in session.error


def test_cancelled_from_the_shell_ends_in_one_cycle(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING)
    write_conn(backend, session)
    _sync(backend)
    backend.scheduler.set_state(session.slurm_job_id, JobState.CANCELLED)
    _sync(backend)
    assert session.state == "ended" and not session.hidden and session.token_enc is None


def test_completing_job_asks_sacct_for_the_final_state(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    snapshot = backend.scheduler.snapshot()
    snapshot[0]["state"] = "completing"
    backend.scheduler.set_state(session.slurm_job_id, JobState.CANCELLED)
    sessionsync.sync_sessions(backend, snapshot)
    assert session.state == "ended" and "sacct" in backend.scheduler.calls


def test_deleting_becomes_hidden_once_slurm_confirms(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    svc.delete_session(world["ursula"], session.id)
    assert session.state == "deleting"
    _sync(backend)
    assert session.state == "ended" and session.hidden


def test_job_gone_everywhere_is_ended_only_after_a_while(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    del backend.scheduler.jobs[session.slurm_job_id]
    sessionsync.sync_sessions(backend, [])
    assert session.state == "pending"
    session.submitted_at -= timedelta(minutes=11)
    sessionsync.sync_sessions(backend, [])
    assert session.state == "ended" and "no record" in session.error


def test_no_snapshot_changes_nothing(world):
    session = svc.create_session(world["ursula"], session_data())
    assert sessionsync.sync_sessions(world["backend"], None) == {}
    assert session.state == "pending"


def test_past_end_time_is_cancelled(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING)
    session.end_at = db.utcnow() - timedelta(minutes=1)
    _sync(backend)
    assert session.state == "deleting" and "scancel:nobody" in backend.scheduler.calls


def test_lost_submission_is_adopted_by_its_tag(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    job_id, session.slurm_job_id, session.state = session.slurm_job_id, None, "submitting"
    db.session.commit()
    _sync(backend)
    assert session.slurm_job_id == job_id and session.state == "pending"
