"""SlurmScheduler against the dev cluster: everything a portal user does, as alice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.errors import JobNotFound, SlurmRejected
from adapters.scheduler import JobSpec, JobState

pytestmark = pytest.mark.integration

USER, ACCOUNT, OTHER_ACCOUNT = "alice", "proja", "projb"

FINISHED_OR_RUNNING = {JobState.RUNNING, JobState.COMPLETING, JobState.COMPLETED}


def test_submitted_job_is_in_alices_squeue(sched, submit, unique):
    job_id = submit(hold=True, comment=unique)
    mine = {j.id: j for j in sched.info_all(user=USER)}
    job = mine[job_id]
    assert (job.user, job.name, job.account, job.comment) == (USER, unique, ACCOUNT, unique)
    assert job.state is JobState.QUEUED_HELD and job.reason == "JobHeldUser"
    # alice herself sees it too (squeue run as alice)
    assert sched.info(job_id, as_user=USER).name == unique
    assert sched.find_by_comment(unique).id == job_id


def test_hold_and_release(sched, submit, wait_until):
    held = submit("#!/bin/sh\ntrue\n", hold=True)
    later = submit(begin="now+600")
    sched.hold(later, as_user=USER)
    assert sched.status(held) is JobState.QUEUED_HELD
    assert sched.info(later).reason == "JobHeldUser"
    sched.release(later, as_user=USER)
    assert sched.status(later) is JobState.QUEUED
    sched.release(held, as_user=USER)
    wait_until(lambda: sched.status(held) in FINISHED_OR_RUNNING, "the released job to run")


def test_cancel(sched, submit, wait_until):
    job_id = submit(hold=True)
    sched.delete(job_id, as_user=USER)
    wait_until(lambda: sched.status(job_id) is JobState.CANCELLED, "the job to be cancelled")
    sched.delete(job_id, as_user=USER)  # cancelling again is not an error


def test_begin_time_in_the_future(sched, submit, wait_until):
    begin = (datetime.now() + timedelta(minutes=10)).replace(microsecond=0)
    job_id = submit(begin=begin)
    job = wait_until(
        lambda: (j := sched.info(job_id)).reason == "BeginTime" and j, "reason BeginTime"
    )
    assert job.state is JobState.QUEUED
    assert job.start_time is not None and job.start_time.replace(tzinfo=None) >= begin


def test_dependency(sched, submit, wait_until):
    first = submit(hold=True)
    second = submit(dependency=f"afterany:{first}")
    job = wait_until(
        lambda: (j := sched.info(second)).reason == "Dependency" and j, "reason Dependency"
    )
    assert job.state is JobState.QUEUED


def test_invalid_account_is_refused_with_slurms_message(sched, unique):
    spec = JobSpec(script="#!/bin/sh\ntrue\n", job_name=unique, account=OTHER_ACCOUNT, hold=True)
    with pytest.raises(SlurmRejected) as caught:
        sched.submit(spec, as_user=USER)
    assert "Invalid account" in caught.value.message
    assert not caught.value.message.startswith("sbatch:")


def test_two_gpus_give_two_visible_devices(sched, submit, unique, wait_until):
    out = f"/home/{USER}/{unique}.out"
    script = '#!/bin/sh\necho "CVD=$CUDA_VISIBLE_DEVICES"\n'
    job_id = submit(script, gres="gpu:a100:2", output=out)
    wait_until(lambda: sched.status(job_id).is_terminal, "the GPU job to finish", limit=120)
    job = sched.info(job_id)
    assert (job.state, job.exit_code) == (JobState.COMPLETED, 0)
    assert job.gres == "gpu:a100:2"
    text = sched.runner.run(["cat", "--", out], as_user=USER).stdout
    sched.runner.run(["rm", "-f", "--", out], as_user=USER)
    devices = text.strip().removeprefix("CVD=").split(",")
    assert len(devices) == 2 and all(d.isdigit() for d in devices), text


def test_cluster_info(sched):
    info = sched.cluster_info()
    total, free = info.gpu_models["a100"]
    assert total == 4 and 0 <= free <= 4
    parts = {p.name: p for p in info.partitions}
    assert parts["gpu"].default and not parts["cpu"].default
    assert info.nodes and info.nodes[0].cpus_total > 0
    assert info.version.startswith(("22.", "23.", "24.", "25."))


def test_idempotent_submission_is_tagged_and_found(sched, unique):
    job_id = sched.submit_idempotent(
        JobSpec(script="#!/bin/sh\ntrue\n", account=ACCOUNT, hold=True, time=1),
        as_user=USER,
        tag=unique,
    )
    try:
        assert sched.find_by_comment(unique, user=USER).id == job_id
        assert sched.info(job_id).comment == unique
    finally:
        sched.delete(job_id, as_user=USER)


def test_unknown_job(sched):
    with pytest.raises(JobNotFound):
        sched.info("999999999")
    assert sched.info_all(job_ids=["999999999"]) == []
