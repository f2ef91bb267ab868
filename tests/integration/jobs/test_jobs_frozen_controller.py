"""Issue #13 on the real dev cluster: a job created while slurmctld is frozen (SIGSTOP).

What a user checks: while the create waits in sbatch, pages and API reads answer at
once; the create answers a clear 503 within the configured command timeout, and the same
request retried with its Idempotency-Key gets the same answer without a second sbatch;
after the controller wakes, exactly ONE Slurm job carries the job's tag — the one the
portal shows — and it stays one. (Before, the answer-less sbatch was looked up and
submitted again: the queued request was processed after the look-up, 13 ms apart.)

The freeze lasts FREEZE seconds and is ALWAYS undone with SIGCONT in a `finally`; it
freezes the shared cluster, so `make test` runs this alone, after the rest (marker
`disruptive`).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from portal import db
from portal.models import Job
from portal.services import tokens
from tests.integration.adapters.test_slurm_controller_outage import slurmctld_pid
from tests.integration.jobs.jobhelpers import add_member, cycle, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.disruptive]

FREEZE = 16.0  # seconds: longer than the create's timeout and sbatch's own (MessageTimeout)
TIMEOUT = 6.0  # the portal's command timeout for this test


def test_a_create_during_a_frozen_controller_makes_exactly_one_slurm_job(
        cluster_ctx, prefix, slurm):
    app = cluster_ctx
    app.config["COMMAND_TIMEOUT"] = TIMEOUT
    alice = add_member("alice", "proja")
    _, token = tokens.create_token(alice, "frozen")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"{prefix}-create"}
    body = {"name": f"{prefix}-frozen", "cpus": 1, "mem_gb": 1, "image": "base",
            "command": "sleep 5"}
    created: dict = {}

    def create():
        started = time.monotonic()
        with app.test_client() as client:
            created["response"] = client.post("/api/v1/jobs", json=body, headers=headers)
        created["seconds"] = time.monotonic() - started

    pid = slurmctld_pid(slurm)
    os.kill(pid, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        thread = threading.Thread(target=create)
        thread.start()
        row = wait_for(lambda: _row(), 10, step=0.1, what="the job to be on record")
        reads, started = app.test_client(), time.monotonic()
        listing = reads.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        one = reads.get(f"/api/v1/jobs/{row.id}", headers={"Authorization": f"Bearer {token}"})
        cluster_view = reads.get("/api/v1/cluster", headers={"Authorization": f"Bearer {token}"})
        read_seconds = time.monotonic() - started
        thread.join(TIMEOUT + 15)
        retried = app.test_client().post("/api/v1/jobs", json=body, headers=headers)
        time.sleep(max(0.0, FREEZE - (time.monotonic() - frozen_at)))
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"\nreads during the hung create: {read_seconds:.3f} s; "
          f"create answered {created['response'].status_code} in {created['seconds']:.1f} s")
    assert listing.status_code == one.status_code == cluster_view.status_code == 200
    assert [j["state"] for j in listing.get_json()] == ["submitting"]
    assert read_seconds < 3.0
    response = created["response"]
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "slurm_unavailable" and error["outage"] == "controller"
    assert created["seconds"] < TIMEOUT + 5  # the timeout (+ its kill grace) bounds it
    assert retried.status_code == 503 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json()["job"]["id"] == error["job_id"] == row.id
    tag = f"portal-job-{row.uuid}"

    def adopted():
        job = db.session.get(Job, row.id)
        return job if job.slurm_job_id else None

    job = wait_for(adopted, 90, cycle_app=app, what="the job to be adopted by its tag")
    woke = time.monotonic()
    for _ in range(3):  # and it stays one: nothing resubmits, the sweep finds nothing
        cycle(app)
    carrying = [j for j in slurm.info_all() if j.comment == tag]
    print(f"adopted Slurm job {job.slurm_job_id} {woke - frozen_at - FREEZE:.1f} s after "
          f"the wake-up; Slurm jobs with the tag: {[j.id for j in carrying]}")
    assert [j.id for j in carrying] == [job.slurm_job_id]
    assert [e.kind for e in job.events][:2] == ["submit_uncertain", "submitted"]
    assert job.state != "failed" and db.session.query(Job).count() == 1


def _row():
    db.session.rollback()  # see what the create's own session committed
    return db.session.query(Job).filter(Job.state == "submitting").one_or_none()
