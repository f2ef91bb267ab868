"""F11: a session is an order too; over the approval threshold it is submitted held."""

from portal import db
from portal.models import Order
from portal.services import sessions as svc


def test_session_order_and_approval_hold(world):
    project = world["ursula"].memberships[0].project
    project.approval_threshold = 1
    db.session.commit()
    data = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4",
            "allow_all": True, "end": "never", "reason": "two GPUs for a demo"}
    small = svc.create_session(world["ursula"], {**data, "gpu_model": "a100",
                                                 "gpu_count": "1"})
    big = svc.create_session(world["ursula"], {**data, "name": "lab-2", "gpu_model": "a100",
                                               "gpu_count": "2"})
    specs = world["backend"].scheduler.specs
    assert not specs[small.slurm_job_id].hold and specs[big.slurm_job_id].hold
    orders = {o.ref_id: o for o in db.session.query(Order).filter_by(kind="session")}
    assert orders[small.id].approval == "none"
    assert orders[big.id].approval == "pending" and orders[big.id].reason == data["reason"]
    # this fake Slurm has no operator commands: the hold is recorded as failed, and the
    # account's per-job GPU cap still keeps the job from starting
    assert [e.kind for e in orders[big.id].events] == ["created", "hold_failed"]
