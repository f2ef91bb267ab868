"""What runs is what was approved (issue #12): the operator compares the held job with the
request before releasing it, right after, and (worker) until it starts; a changed job is
cancelled. Slurm faked here; tests/security/test_sec_approvals.py runs the real attack."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.scheduler import JobInfo, JobState
from portal import db
from portal.models import AuditEvent, Order, Project, ProjectRole
from portal.services import ServiceError, cluster
from portal.services import approval_check as check
from portal.services import approvals as apsvc
from portal.services import jobs as jobsvc


def _pending(member, job_data):
    user = member()
    manager = member("mona", role=ProjectRole.MANAGER)
    project = db.session.query(Project).filter_by(account="proja").one()
    project.approval_threshold = 1
    db.session.commit()
    jobsvc.create_job(user, job_data)
    return manager, db.session.query(Order).one()


def _job(backend, order) -> JobInfo:
    return backend.scheduler.jobs[order.slurm_job_id]


def test_the_held_event_keeps_what_slurm_showed(member, backend, job_data):
    _manager, order = _pending(member, job_data)
    held = [e for e in order.events if e.kind == "held"][0]
    assert held.details["terms"] == {
        "gpus": 3, "gpu_model": "a100", "cpus": 1, "mem_mb": 1024, "time_limit": 240,
        "partition": "gpu", "account": "proja", "qos": "normal",
        "comment": apsvc.tag_of(order)}


@pytest.mark.parametrize("change, field", [
    ({"gres": "gpu:a100:4", "tres": "cpu=1,mem=1G,node=1,gres/gpu=4,gres/gpu:a100=4"}, "gpus"),
    ({"tres": "cpu=8,mem=1G,node=1,gres/gpu=3,gres/gpu:a100=3"}, "cpus"),
    ({"tres": "cpu=1,mem=8G,node=1,gres/gpu=3,gres/gpu:a100=3"}, "mem_mb"),
    ({"account": "projb"}, "account"),
    ({"partition": "cpu"}, "partition"),
    ({"qos": "other"}, "qos"),
    ({"comment": "mine"}, "comment"),
    ({"time_limit": 10}, "time_limit"),
    ({"tres": "cpu=1,mem=1G,node=1,gres/gpu=3,gres/gpu:a100=3", "gres": "gpu:h100:3"},
     "gpu_model"),
])
def test_a_job_changed_before_approval_is_cancelled_not_released(
        member, backend, accounts, job_data, change, field):
    manager, order = _pending(member, job_data)
    job = _job(backend, order)
    for key, value in change.items():
        setattr(job, key, value)
    with pytest.raises(ServiceError) as exc:
        apsvc.approve(manager, order.id, backend)
    assert exc.value.code == "job_changed" and exc.value.status == 409
    assert field in str(exc.value.message) and "cancelled" in str(exc.value.message)
    calls = backend.scheduler.calls
    assert calls[-1] == f"cancel {order.slurm_job_id}"
    assert not any(c.startswith(("move", "release")) for c in calls)
    assert order.approval == "closed" and order.state == "cancelled"
    assert field in order.decision_message and order.decided_by_id == manager.id
    event = db.session.query(AuditEvent).filter_by(action="approval.job_changed").one()
    assert field in event.details["differences"] and event.details["stage"] == "before_release"
    assert [e.kind for e in order.events][-1] == "changed"


def test_an_unchanged_job_is_approved(member, backend, accounts, job_data):
    manager, order = _pending(member, job_data)
    apsvc.approve(manager, order.id, backend)
    assert order.approval == "approved" and order.state == "released"
    assert backend.scheduler.calls[-1] == f"release {order.slurm_job_id}"


def test_a_change_racing_the_release_is_caught_right_after(member, backend, accounts, job_data):
    manager, order = _pending(member, job_data)
    fake = backend.scheduler
    release = fake.operator_release

    def release_after_a_change(job_id):
        fake.jobs[job_id].tres = "cpu=1,mem=1G,node=1,gres/gpu=4,gres/gpu:a100=4"
        release(job_id)

    fake.operator_release = release_after_a_change
    with pytest.raises(ServiceError) as exc:
        apsvc.approve(manager, order.id, backend)
    assert exc.value.code == "job_changed"
    assert fake.calls[-2:] == [f"release {order.slurm_job_id}", f"cancel {order.slurm_job_id}"]
    assert order.approval == "closed" and order.state == "cancelled"
    kinds = [e.kind for e in order.events]
    assert kinds[-2:] == ["approved", "changed"]


def test_worker_cancels_an_approved_job_changed_before_it_starts(
        member, backend, accounts, job_data):
    manager, order = _pending(member, job_data)
    apsvc.approve(manager, order.id, backend)
    fake = backend.scheduler
    jobs = cluster._plain(list(fake.jobs.values()))
    assert apsvc.worker_step(fake, jobs) == {}  # pending and unchanged: nothing to do
    assert order.state == "released"
    fake.jobs[order.slurm_job_id].tres = "cpu=1,mem=1G,node=1,gres/gpu=4,gres/gpu:a100=4"
    jobs = cluster._plain(list(fake.jobs.values()))
    assert apsvc.worker_step(fake, jobs) == {"orders_changed": 1}
    assert fake.calls[-1] == f"cancel {order.slurm_job_id}"
    assert order.approval == "closed" and order.state == "cancelled"
    event = db.session.query(AuditEvent).filter_by(action="approval.job_changed").one()
    assert event.details["stage"] == "before_start"


def test_worker_marks_a_matching_running_job_started(member, backend, accounts, job_data):
    manager, order = _pending(member, job_data)
    apsvc.approve(manager, order.id, backend)
    fake = backend.scheduler
    fake.set_state(order.slurm_job_id, JobState.RUNNING)
    # Allocation may round CPUs up to whole cores: not a change on a running job.
    fake.jobs[order.slurm_job_id].tres = "cpu=2,mem=1G,node=1,gres/gpu=3,gres/gpu:a100=3"
    # Without the cycle's snapshot the step asks squeue for just these jobs.
    assert apsvc.worker_step(fake) == {} and fake.calls[-1] == "squeue"
    assert order.state == "started" and order.approval == "approved"
    fake.set_state(order.slurm_job_id, JobState.COMPLETED)
    assert apsvc.worker_step(fake, cluster._plain(list(fake.jobs.values()))) == {}
    assert order.state == "started"  # no longer looked at


def test_live_terms_read_22_05_and_24_11_notation():
    info = JobInfo(id="1", name="n", user="bob", state=JobState.QUEUED_HELD,
                   slurm_state="PENDING", account="proja", partition="gpu", qos="normal",
                   gres="gres/gpu:a100:2", time_limit=240, comment="portal-job-x",
                   tres="cpu=2,mem=1.50G,node=1,billing=22,gres/gpu=2,gres/gpu:a100=2")
    assert check.live_terms(info) == {
        "gpus": 2, "gpu_model": "a100", "cpus": 2, "mem_mb": 1536, "time_limit": 240,
        "partition": "gpu", "account": "proja", "qos": "normal", "comment": "portal-job-x"}
    assert check.live_terms(cluster._plain(info))["gpus"] == 2
    # Slurm's record cannot be read: never taken to match.
    assert list(check.differences({"gpus": 2}, {"tres": "garbage"})) == ["unreadable"]


@given(st.integers(0, 64), st.integers(0, 64))
def test_any_gpu_count_other_than_the_approved_one_differs(approved, found):
    info = {"tres": f"cpu=1,mem=1G,node=1,gres/gpu={found}", "gres": f"gpu:a100:{found}"}
    diffs = check.differences({"gpus": approved}, info)
    assert ("gpus" in diffs) == (approved != found)


def test_mem_mb_units():
    assert [check.mem_mb(v) for v in ("1G", "1000M", "1.50G", "2T", "512K", "", None, "x")] == [
        1024, 1000, 1536, 2 * 1024 * 1024, 0, None, None, None]
