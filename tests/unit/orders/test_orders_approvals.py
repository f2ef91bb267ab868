"""Orders and approvals: the rules, with Slurm faked (the cluster tests prove Slurm's side)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import db
from portal.models import AuditEvent, Job, Order, Price, Project, ProjectRole
from portal.services import Forbidden, NotFound, ServiceError, project_settings
from portal.services import approvals as apsvc
from portal.services import jobs as jobsvc
from portal.services import orders as svc


def _threshold(account="proja", n=2):
    project = db.session.query(Project).filter_by(account=account).one()
    project.approval_threshold = n
    db.session.commit()
    return project


def test_every_job_is_an_order_with_the_price_of_its_time(member, backend, job_data):
    user = member()
    db.session.add(Price(resource="gpu:a100", hourly=Decimal("10"),
                         effective_from=db.utcnow() - timedelta(days=1)))
    db.session.add(Price(resource="cpu", hourly=Decimal("0.5"),
                         effective_from=db.utcnow() - timedelta(days=1)))
    db.session.commit()
    job = jobsvc.create_job(user, job_data)
    order = db.session.query(Order).one()
    assert order.kind == "job" and order.ref_id == job.id and order.slurm_job_id == "1000"
    assert order.unit_price == Decimal("30.5") and order.approval == "none"
    assert order.spec["gpu_count"] == 3 and order.reason == job_data["reason"]
    assert [e.kind for e in order.events] == ["created"]
    assert not backend.scheduler.specs["1000"].hold


def test_over_threshold_is_submitted_held_and_operator_held(member, backend, job_data):
    user = member()
    _threshold(n=2)
    job = jobsvc.create_job(user, job_data)
    assert backend.scheduler.specs[job.slurm_job_id].hold is True
    assert f"hold {job.slurm_job_id}" in backend.scheduler.calls
    order = db.session.query(Order).one()
    assert order.approval == "pending" and [e.kind for e in order.events] == ["created", "held"]
    assert db.session.query(AuditEvent).filter_by(action="approval.request").count() == 1
    # at the threshold: no approval
    jobsvc.create_job(user, {**job_data, "gpu_count": "2"})
    assert db.session.query(Order).filter_by(approval="none").count() == 1


def _pending_order(member, job_data, manager_name="mona"):
    user = member()
    manager = member(manager_name, role=ProjectRole.MANAGER)
    _threshold(n=1)
    jobsvc.create_job(user, job_data)
    return user, manager, db.session.query(Order).one()


def test_manager_approves_the_job_moves_and_is_released(member, backend, accounts, job_data):
    user, manager, order = _pending_order(member, job_data)
    assert [o.id for o in apsvc.pending(manager)] == [order.id]
    assert apsvc.pending(user) == []
    apsvc.approve(manager, order.id, backend)
    assert order.approval == "approved" and order.decided_by_id == manager.id
    calls = backend.scheduler.calls
    assert calls[-2:] == [f"move {order.slurm_job_id} proja_approved",
                          f"release {order.slurm_job_id}"]
    assert "proja_approved" in accounts.accts and ("proja_approved", "nobody") in accounts.assocs
    event = db.session.query(AuditEvent).filter_by(action="approval.approve").one()
    assert event.actor_id == manager.id and event.target == f"order:{order.id}"
    with pytest.raises(ServiceError) as twice:
        apsvc.approve(manager, order.id, backend)
    assert twice.value.code == "already_decided" and "mona" in str(twice.value.message)
    assert calls.count(f"release {order.slurm_job_id}") == 1


def test_own_request_cannot_be_approved_by_its_manager_but_by_an_admin(
        member, backend, accounts, job_data):
    manager = member("mona", role=ProjectRole.MANAGER)
    _threshold(n=1)
    jobsvc.create_job(manager, job_data)
    order = db.session.query(Order).one()
    with pytest.raises(Forbidden) as own:
        apsvc.approve(manager, order.id, backend)
    assert own.value.code == "own_request" and order.approval == "pending"
    admin = member("root1", role=ProjectRole.MEMBER, account="projb")
    admin.is_admin = True
    db.session.commit()
    apsvc.approve(admin, order.id, backend)
    assert order.approval == "approved"


def test_a_member_cannot_decide(member, backend, job_data):
    user, _manager, order = _pending_order(member, job_data)
    other = member("olga")
    with pytest.raises(NotFound):
        apsvc.approve(other, order.id, backend)


def test_reject_needs_a_message_and_cancels(member, backend, job_data):
    user, manager, order = _pending_order(member, job_data)
    for empty in (None, "", "   "):
        with pytest.raises(ServiceError) as exc:
            apsvc.reject(manager, order.id, empty, backend)
        assert exc.value.code == "message_required"
    assert order.approval == "pending" and not any(
        c.startswith("cancel") for c in backend.scheduler.calls)
    apsvc.reject(manager, order.id, "Use 1 GPU, please.", backend)
    assert order.approval == "rejected" and order.state == "cancelled"
    assert backend.scheduler.calls[-1] == f"cancel {order.slurm_job_id}"
    assert svc.get_order(user, order.id).decision_message == "Use 1 GPU, please."
    assert db.session.query(AuditEvent).filter_by(action="approval.reject").count() == 1


def test_approving_a_job_cancelled_from_the_shell_says_so(member, backend, accounts, job_data):
    from adapters.scheduler import JobState

    _user, manager, order = _pending_order(member, job_data)
    backend.scheduler.set_state(order.slurm_job_id, JobState.CANCELLED)
    with pytest.raises(ServiceError) as exc:
        apsvc.approve(manager, order.id, backend)
    assert exc.value.code == "job_gone" and exc.value.status == 409
    assert order.approval == "closed" and "proja_approved" not in accounts.accts
    with pytest.raises(ServiceError) as again:
        apsvc.approve(manager, order.id, backend)
    assert again.value.code == "already_decided"


def test_time_range_reversed_or_too_long_is_refused_fast(member):
    user = member()
    with pytest.raises(ServiceError) as rev:
        svc.list_orders(user, {"from": "2026-05-02", "to": "2026-05-01"})
    assert rev.value.code == "reversed_range"
    with pytest.raises(ServiceError) as long:
        svc.list_orders(user, {"from": "2016-01-01", "to": "2026-01-01"})
    assert long.value.code == "range_too_long"
    with pytest.raises(ServiceError) as bad:
        svc.list_orders(user, {"from": "yesterday"})
    assert bad.value.code == "invalid_date"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=12), st.dates().map(str)),
       st.one_of(st.none(), st.text(max_size=12), st.dates().map(str)))
def test_parse_range_answers_or_refuses_cleanly(start, end):
    try:
        low, high = svc.parse_range(start, end, today=date(2026, 11, 29))
    except ServiceError as exc:
        assert exc.code in ("reversed_range", "range_too_long", "invalid_date")
    else:
        assert low < high and (high - low).days <= svc.MAX_RANGE_DAYS + 1


def test_threshold_is_a_project_setting_applied_to_the_account(member, accounts):
    admin = member("adm")
    admin.is_admin = True
    project = db.session.query(Project).filter_by(account="proja").one()
    accounts.add_account("proja")
    db.session.commit()
    project_settings.update_settings(admin, project.id, {"approval_threshold": "2"})
    assert project.approval_threshold == 2 and "modify_account" in accounts.calls
    with pytest.raises(ServiceError):
        project_settings.update_settings(admin, project.id, {"approval_threshold": "-1"})
    assert project.approval_threshold == 2


def test_worker_closes_a_request_whose_job_ended_and_fills_late_ids(member, backend, job_data):
    from adapters.errors import SlurmUnreachable
    from adapters.scheduler import JobState

    user, _manager, order = _pending_order(member, job_data)
    job = db.session.get(Job, order.ref_id)
    backend.scheduler.set_state(order.slurm_job_id, JobState.CANCELLED)
    job.state = "cancelled"  # what the job sync writes after a shell scancel
    db.session.commit()
    assert apsvc.worker_step(backend.scheduler) == {"orders_synced": 1}
    assert order.approval == "closed" and apsvc.pending(_manager) == []
    assert apsvc.worker_step(backend.scheduler) == {}
    # Slurm did not answer at creation: the order gets its id and hold later.
    backend.scheduler.fail_submit = SlurmUnreachable("down", ["sbatch"], "down", 1)
    late = jobsvc.create_job(user, job_data)
    late_order = db.session.query(Order).filter_by(ref_id=late.id).one()
    assert late.state == "submitting" and late_order.slurm_job_id is None
    late.slurm_job_id, late.state = "4242", "pending"
    backend.scheduler.jobs["4242"] = backend.scheduler.jobs[order.slurm_job_id]
    db.session.commit()
    assert apsvc.worker_step(backend.scheduler) == {"orders_synced": 1}
    assert late_order.slurm_job_id == "4242" and "hold 4242" in backend.scheduler.calls


def test_accounts_check_reports_and_fixes_the_cap(member, accounts):
    from portal.services import accounts_sync

    class CapAccounts(type(accounts)):
        caps: dict = {}

        def max_tres(self, account=None):
            return dict(self.caps)

        def modify_account(self, name, settings):
            if "MaxTRES" in settings:
                self.caps[name] = {k: v for k, v in settings["MaxTRES"].items()
                                   if v is not None}
            return super().modify_account(name, settings)

    member()
    fake = CapAccounts()
    fake.add_account("proja", {"QOS": ["normal"], "DefaultQOS": "normal"})
    fake.add_account("proja_approved", parent="proja")
    project = _threshold(n=2)
    diffs = [d for d in accounts_sync.check(fake, only=["proja", "proja_approved"])
             if d.kind in ("approval_cap", "unmanaged_account")]
    assert [(d.kind, d.portal, d.slurm) for d in diffs] == [("approval_cap", 2, None)]
    accounts_sync.fix(diffs, "portal", fake)
    assert fake.caps["proja"] == {"gres/gpu": 2}
    assert not [d for d in accounts_sync.check(fake, only=["proja"]) if d.kind == "approval_cap"]
    assert project.approval_threshold == 2
