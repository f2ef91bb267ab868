"""Issue #13: an Idempotency-Key claim whose process was killed mid-create is taken over at
once by the retry, not after SUBMIT_INFLIGHT_SECONDS — without a second Slurm job: a claim
that made a job replays it (looked up by its tag first), one that made nothing runs again.
procid's verdicts on real processes of this machine (Slurm faked)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from adapters.scheduler import JobSpec
from portal import db
from portal.models import IdempotencyKey, Job
from portal.services import jobs as jobsvc
from portal.services import procid
from tests.support.killedcreate import key_headers

BODY = {"name": "api-dead", "cpus": 1, "mem_gb": 2, "image": "base", "command": "true"}


@pytest.fixture
def headers(app, outside_member, backend):
    user = outside_member("ursula")
    return key_headers(app, user, "dead-1")


def _dead_process() -> procid.Holder:
    """A process of this machine that ran and is gone (its PID, its start time)."""
    child = subprocess.Popen(["sleep", "30"])
    ticks, _ = procid.start_ticks(child.pid)
    child.kill()
    child.wait()
    return procid.Holder(procid.host_id(), child.pid, ticks)


def _claim(app, holder: procid.Holder | None, *, drop_answer: bool = True,
           drop_job: bool = False) -> None:
    """Turn the stored answer back into a claim in progress, held by `holder`."""
    with app.app_context():
        row = db.session.query(IdempotencyKey).one()
        if drop_answer:
            row.status, row.response = None, None
        if drop_job:
            db.session.delete(db.session.get(Job, int(row.resource.split(":")[1])))
            row.resource = None
        row.owner_host = holder.host if holder else None
        row.owner_pid = holder.pid if holder else None
        row.owner_started = holder.started if holder else None
        db.session.commit()


# ---- procid on real processes ----

def test_this_process_runs_and_a_finished_one_is_gone():
    me = procid.current()
    assert me.pid == os.getpid() and me.host == procid.host_id()
    assert procid.gone(me.host, me.pid, me.started) is False
    dead = _dead_process()
    assert procid.gone(dead.host, dead.pid, dead.started) is True


def test_a_reused_pid_a_zombie_and_a_reboot_are_gone_another_host_cannot_tell():
    me = procid.current()
    assert procid.gone(me.host, me.pid, me.started + 1) is True  # another process now
    child = subprocess.Popen(["true"])  # not reaped: a zombie
    deadline = time.monotonic() + 10
    while procid.start_ticks(child.pid)[1] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    ticks, _ = procid.start_ticks(child.pid)
    assert procid.gone(me.host, child.pid, ticks) is True
    child.wait()
    name, boot, namespace = me.host.split(" ")
    assert procid.gone(f"{name} 00000000-0000-0000-0000-000000000000 {namespace}", me.pid,
                       me.started) is True
    assert procid.gone(f"elsewhere {boot} {namespace}", me.pid, me.started) is None
    assert procid.gone(f"{name} {boot} pid:[1]", me.pid, me.started) is None
    assert procid.gone(None, me.pid, me.started) is None


def test_a_claim_records_its_process(app, client, headers, backend):
    assert client.post("/api/v1/jobs", json=BODY, headers=headers).status_code == 201
    with app.app_context():
        row = db.session.query(IdempotencyKey).one()
        assert (row.owner_host, row.owner_pid) == (procid.host_id(), os.getpid())


# ---- the API retry ----

def test_a_live_claim_still_answers_409(app, client, headers, backend):
    client.post("/api/v1/jobs", json=BODY, headers=headers)
    _claim(app, procid.current())  # this very process: as if still at work
    busy = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "idempotency_in_progress"
    other = procid.current()  # a portal process on another host: cannot be seen from here
    _claim(app, procid.Holder("elsewhere" + other.host[other.host.index(" "):], other.pid,
                              other.started))
    assert client.post("/api/v1/jobs", json=BODY, headers=headers).status_code == 409


def test_a_killed_claim_with_its_job_replays_that_job_at_once(app, client, headers,
                                                              backend):
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    _claim(app, _dead_process())
    replay = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert replay.status_code == 200 and replay.get_json()["id"] == first["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert backend.scheduler.count("sbatch") == 1


def test_a_killed_claim_that_made_nothing_runs_again(app, client, headers, backend):
    client.post("/api/v1/jobs", json=BODY, headers=headers)
    backend.scheduler.jobs.clear()
    _claim(app, _dead_process(), drop_job=True)  # died before its job was recorded
    again = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert again.status_code == 201, again.get_json()
    with app.app_context():
        assert db.session.query(Job).count() == 1


def test_a_killed_claim_mid_sbatch_is_looked_up_by_its_tag_never_resubmitted(
        app, client, headers, backend):
    """Killed while sbatch ran: the job is recorded "submitting" without a Slurm id. The
    retry asks Slurm for its tag and adopts the job the orphaned sbatch made; when Slurm
    does not have it (yet), the job stays for the worker and nothing is submitted."""
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()
    with app.app_context():
        job = db.session.get(Job, first["id"])
        job.slurm_job_id, job.state, job.submitted_at = None, "submitting", None
        tag = jobsvc.tag_of(job)
        db.session.commit()
    backend.scheduler.jobs.clear()
    _claim(app, _dead_process())
    waiting = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert waiting.status_code == 200 and waiting.get_json()["state"] == "submitting"
    assert backend.scheduler.count("sbatch") == 1 and backend.scheduler.count("squeue") >= 1
    # the orphaned sbatch gets through: the next retry finds the job by its tag
    slurm_id = backend.scheduler.submit(JobSpec(script="#!/bin/sh\n", job_name="x",
                                                account="proja", comment=tag),
                                        as_user="ursula")
    adopted = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert adopted.status_code == 200
    assert adopted.get_json()["slurm_job_id"] == slurm_id
    assert adopted.get_json()["state"] != "submitting"
