"""Issue #16 item 1 for schedules (fake Slurm): every scheduled run is exactly one order of
kind "scheduled" — a submitted one and one Slurm refused alike — and creating a schedule
or running the worker again makes no second order."""

from __future__ import annotations

from adapters.errors import SlurmRejected
from portal import db
from portal.models import Job, Order
from portal.services import approvals, jobtemplates, schedules


def _runs_and_orders(schedule_id):
    runs = db.session.query(Job).filter_by(schedule_id=schedule_id).all()
    orders = db.session.query(Order).filter(Order.ref_id.in_([r.id for r in runs])).all()
    return runs, orders


def test_scheduled_runs_are_one_order_each_even_when_refused(member, backend, job_data):
    owner = member("ursula")
    template = jobtemplates.create_template(owner, {**job_data, "name": "nightly"})
    backend.scheduler.fail_submit = SlurmRejected("sbatch: error: Invalid qos", ["sbatch"],
                                                  "Invalid qos", 1)
    refused = schedules.create_schedule(owner, {
        "name": "refused", "cron": "* * * * *", "timezone": "UTC",
        "template_id": template.id, "mode": "single"})
    runs, orders = _runs_and_orders(refused.id)
    assert [r.state for r in runs] == ["failed"]
    assert [(o.kind, o.ref_id, o.slurm_job_id) for o in orders] == [("scheduled", runs[0].id,
                                                                       None)]
    backend.scheduler.fail_submit = None
    ok = schedules.create_schedule(owner, {
        "name": "fine", "cron": "* * * * *", "timezone": "UTC",
        "template_id": template.id, "mode": "single"})
    runs, orders = _runs_and_orders(ok.id)
    assert len(runs) == 1 and runs[0].slurm_job_id
    assert [(o.kind, o.slurm_job_id) for o in orders] == [("scheduled", runs[0].slurm_job_id)]
    assert approvals.ensure_orders(backend.scheduler) == 0
    assert db.session.query(Order).count() == 2
