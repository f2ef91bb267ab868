"""The tracked-job lifecycle (portal/services/tracked.py) through a session: a lost sbatch
answer is adopted by its tag without a second submission, and a node failure or a
preemption ends the session the way the owner reads it (failed with the log's end, or
ended)."""

from __future__ import annotations

import pytest

from adapters.errors import CommandTimeout
from adapters.scheduler import JobState
from portal.services import sessions as svc
from portal.services import sessionsync, tracked
from portal.services.core.states import session_tag
from tests.unit.sessions.sessionfakes import session_data


def _sync(backend, snapshot=None):
    jobs = backend.scheduler.snapshot() if snapshot is None else snapshot
    return sessionsync.sync_sessions(backend, jobs)


def test_a_lost_answer_is_adopted_by_its_tag_not_submitted_again(world):
    backend = world["backend"]
    fake = backend.scheduler
    fake.lose_answer = CommandTimeout("sbatch ran past its timeout", ["sbatch"])
    session = svc.create_session(world["ursula"], session_data())
    fake.lose_answer = None
    assert session.state == "submitting" and tracked.uncertain(session)
    made = fake.tagged(session_tag(session))
    assert len(made) == 1
    for _ in range(2):
        _sync(backend)
    assert (session.slurm_job_id, session.state, session.error) == (made[0].id, "pending",
                                                                    None)
    assert fake.count("sbatch") == 1 and len(fake.tagged(session_tag(session))) == 1


@pytest.mark.parametrize(("state", "expected"), [(JobState.NODE_FAIL, "failed"),
                                                 (JobState.FAILED, "failed"),
                                                 (JobState.PREEMPTED, "ended"),
                                                 (JobState.TIMEOUT, "ended")])
def test_how_slurm_ended_the_job_is_how_the_session_ends(world, state, expected):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    backend.scheduler.set_state(session.slurm_job_id, JobState.RUNNING, node="vm")
    _sync(backend)
    backend.scheduler.set_state(session.slurm_job_id, state, exit_code=1)
    _sync(backend, snapshot=[])  # gone from squeue: sacct says how it ended
    assert session.state == expected and session.ended_at is not None
    assert session.slurm_state == state.value and session.token_enc is None
    if expected == "failed":
        assert f"Slurm job {state.value}" in session.error


def test_deleting_a_session_slurm_forgot_asks_slurm_to_confirm(world):
    backend = world["backend"]
    session = svc.create_session(world["ursula"], session_data())
    del backend.scheduler.jobs[session.slurm_job_id]
    svc.delete_session(world["ursula"], session.id)
    assert session.state == "deleting"
