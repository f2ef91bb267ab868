"""The Slurm adapter on recorded real output of each recorded Slurm version."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from adapters.errors import JobNotFound, SlurmRejected, SlurmUnreachable
from adapters.scheduler import JobSpec, JobState
from adapters.scheduler.values import parse_tres

SLEEP = "#!/bin/sh\nsleep 300\n"


def by_id(jobs):
    return {j.id: j for j in jobs}


def test_submit_returns_the_job_id(replay, recorded):
    sched, runner = replay("submit")
    spec = JobSpec(script=SLEEP, job_name="rec-held", account="proja", time=10, hold=True)
    assert sched.submit(spec, as_user="alice") == recorded["jobs"]["held"]
    assert not runner.calls


@pytest.mark.parametrize(
    "name, spec, words",
    [
        ("submit_invalid_account", {"account": "projb", "hold": True}, "Invalid account"),
        ("submit_invalid_partition", {"account": "proja", "partition": "nosuch"}, "partition"),
        ("submit_invalid_qos", {"account": "proja", "qos": "nosuch"}, "Invalid qos"),
        ("submit_too_many_gpus", {"account": "proja", "gres": "gpu:a100:9"}, "not available"),
    ],
)
def test_refused_submission_carries_slurms_message(replay, name, spec, words):
    sched, _ = replay(name)
    with pytest.raises(SlurmRejected) as caught:
        sched.submit(JobSpec(script=SLEEP, **spec), as_user="alice")
    assert words in caught.value.message
    assert "sbatch: error:" not in caught.value.message
    assert "sbatch: error:" in caught.value.stderr


def test_hold_and_release(replay, recorded):
    begin = recorded["jobs"]["begin"]
    sched, _ = replay("hold")
    sched.hold(begin, as_user="alice")
    sched, _ = replay("release")
    sched.release(begin, as_user="alice")


def test_owner_cannot_release_an_operator_hold(replay, recorded):
    sched, _ = replay("release_admin_hold")
    with pytest.raises(SlurmRejected, match="Access/permission denied"):
        sched.release(recorded["jobs"]["admin_held"], as_user="alice")


def test_hold_of_unknown_job_is_job_not_found(replay):
    sched, _ = replay("hold_unknown")
    with pytest.raises(JobNotFound):
        sched.hold("999999999", as_user="alice")


def test_cancelling_someone_elses_job_is_refused(replay, recorded):
    sched, _ = replay("delete_other_user")
    with pytest.raises(SlurmRejected, match="permission denied"):
        sched.delete(recorded["jobs"]["gpu"], as_user="bob")


@pytest.mark.parametrize(
    "name, job",
    [("delete", "cancelled"), ("delete_finished", "completed"), ("delete_unknown", None)],
)
def test_delete_is_idempotent(replay, recorded, name, job):
    sched, runner = replay(name)
    sched.delete(recorded["jobs"][job] if job else "999999999", as_user="alice")
    assert not runner.calls


def test_info_all_reads_every_scenario(replay, recorded, caplog):
    sched, _ = replay("info_all")
    with caplog.at_level(logging.WARNING):
        jobs = by_id(sched.info_all())
    assert not caplog.records, "a recorded squeue record did not parse"
    ids = recorded["jobs"]
    held, gpu = jobs[ids["held"]], jobs[ids["gpu"]]
    assert (held.state, held.reason, held.user) == (JobState.QUEUED_HELD, "JobHeldUser", "alice")
    assert (gpu.state, gpu.gres, gpu.time_limit) == (JobState.RUNNING, "gpu:a100:2", 10)
    assert gpu.nodes and gpu.start_time and gpu.submit_time and gpu.start_time.tzinfo
    tres = parse_tres(gpu.tres)  # allocated TRES of a running job (squeue tres-alloc)
    assert tres["gres/gpu"] == "2" and int(tres["cpu"]) >= 1 and tres["mem"].endswith("M")
    assert parse_tres(held.tres).get("cpu")  # pending: what it asks for
    assert jobs[ids["dependency"]].reason == "Dependency"
    assert jobs[ids["resources"]].reason in {"Resources", "Priority"}
    assert jobs[ids["admin_held"]].state is JobState.QUEUED_HELD
    assert jobs[ids["admin_held"]].reason == "JobHeldAdmin"
    assert jobs[ids["cancelled"]].state is JobState.CANCELLED
    assert jobs[ids["unicode"]].name == "rec ü 名前"
    assert jobs[ids["unicode"]].comment.startswith("rec-")
    assert "\ufffd" in jobs[ids["non_utf8"]].name and "café" in jobs[ids["non_utf8"]].name


def test_finished_jobs_in_squeue(replay, recorded):
    sched, _ = replay("info_all")
    jobs = by_id(sched.info_all())
    ids = recorded["jobs"]
    finished = {ids["completed"]: JobState.COMPLETED, ids["failed"]: JobState.FAILED}
    present = {jid: state for jid, state in finished.items() if jid in jobs}
    for jid, state in present.items():
        assert jobs[jid].state is state and jobs[jid].end_time is not None


def test_info_all_for_one_user(replay):
    sched, _ = replay("info_all_user")
    jobs = sched.info_all(user="alice")
    assert jobs and {j.user for j in jobs} == {"alice"}


def test_info_all_by_ids(replay, recorded):
    sched, _ = replay("info_all_jobs")
    jobs = sched.info_all(job_ids=list(recorded["jobs"].values()))
    assert {j.id for j in jobs} <= set(recorded["jobs"].values())


def test_info_of_running_job(replay, recorded):
    sched, _ = replay("info_running")
    assert sched.info(recorded["jobs"]["gpu"]).state is JobState.RUNNING


def test_info_of_finished_job_has_exit_code_from_sacct(replay, recorded):
    sched, runner = replay("info_finished")
    job = sched.info(recorded["jobs"]["failed"])
    assert (job.state, job.exit_code) == (JobState.FAILED, 3)
    assert not runner.calls


def test_info_of_timed_out_job(replay, recorded):
    sched, _ = replay("info_timeout")
    assert sched.info(recorded["jobs"]["timeout"]).state is JobState.TIMEOUT


def test_info_of_unknown_job(replay):
    sched, _ = replay("info_unknown")
    with pytest.raises(JobNotFound):
        sched.info("999999999")


def test_find_by_comment(replay, recorded):
    sched, _ = replay("find_by_comment")
    tag = next(
        j.comment for j in sched.info_all(user="alice") if j.id == recorded["jobs"]["unicode"]
    )
    sched, _ = replay("find_by_comment")
    assert sched.find_by_comment(tag, user="alice").id == recorded["jobs"]["unicode"]


def test_history(replay, recorded, caplog):
    sched, _ = replay("history")
    with caplog.at_level(logging.WARNING):
        jobs = by_id(sched.history(list(recorded["jobs"].values())))
    assert not caplog.records
    ids = recorded["jobs"]
    assert jobs[ids["failed"]].exit_code == 3
    assert jobs[ids["completed"]].state is JobState.COMPLETED
    assert jobs[ids["cancelled"]].state is JobState.CANCELLED  # "CANCELLED by <uid>"
    assert jobs[ids["gpu"]].gres == "gpu:a100:2"
    assert "gres/gpu" in jobs[ids["gpu"]].tres


def test_history_since(replay):
    sched, runner = replay("history_since")
    argv = runner.calls[0]["argv"]
    since = next(a for a in argv if a.startswith("--starttime="))
    start = datetime.strptime(since.split("=", 1)[1], "%Y-%m-%dT%H:%M:%S")
    assert sched.history(since=start)


def test_cluster_info(replay):
    sched, runner = replay("cluster_info")
    info = sched.cluster_info()
    assert not runner.calls
    parts = {p.name: p for p in info.partitions}
    assert parts["gpu"].default and not parts["cpu"].default
    assert parts["gpu"].max_time is None and parts["gpu"].nodes
    (node,) = info.nodes
    assert node.cpus_total == 16 and node.mem_total_mb == 16000
    assert node.partitions == ["gpu", "cpu"]
    total, used = node.gpus["a100"]
    assert total == 4 and used == 2  # the recorded 2-GPU job was running
    assert info.gpu_models["a100"] == (4, 2)
    assert info.version.count(".") == 2


def test_unreachable_controller_gives_unknown(replay, recorded):
    sched, _ = replay("unreachable_status")
    assert sched.status(recorded["jobs"]["gpu"]) is JobState.UNKNOWN


def test_stopped_controller_gives_unknown(replay, recorded):
    sched, _ = replay("stopped_controller_squeue")
    assert sched.status(recorded["jobs"]["gpu"]) is JobState.UNKNOWN
    sched, _ = replay("stopped_controller_squeue")
    with pytest.raises(SlurmUnreachable, match="Socket timed out"):
        sched.info_all(job_ids=[recorded["jobs"]["gpu"]])


def test_unreachable_submit_is_unreachable_not_rejected(replay):
    sched, _ = replay("unreachable_submit")
    with pytest.raises(SlurmUnreachable, match="Unable to contact slurm controller"):
        sched.submit(JobSpec(script=SLEEP, account="proja", hold=True), as_user="alice")


def test_unreachable_database(replay, recorded):
    sched, _ = replay("unreachable_history")
    with pytest.raises(SlurmUnreachable, match="Connection refused"):
        sched.history([recorded["jobs"]["completed"]])


def test_history_right_after_events_parses_even_when_slurmdbd_lags(replay, recorded, caplog):
    # Seconds after submission sacct may show a running job as PENDING named "allocation",
    # without partition or QOS: whatever it says must parse; info() keeps squeue's view.
    sched, runner = replay("history_right_away")
    asked = next(a for a in runner.calls[0]["argv"] if a.startswith("--jobs="))
    with caplog.at_level(logging.WARNING):
        jobs = sched.history(asked.split("=", 1)[1].split(","))
    assert not caplog.records
    assert {j.id for j in jobs} <= set(recorded["jobs"].values())
    assert all(isinstance(j.state, JobState) and j.user == "alice" for j in jobs)
