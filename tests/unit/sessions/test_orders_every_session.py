"""Issue #16 item 1 with a fake Slurm: every session — batch-created ones too — has exactly
one order, and the wallet's charge for its Slurm job links to that order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal import db
from portal.models import Order, Session, WalletTransaction
from portal.services import approvals, sessionaccept, wallet
from portal.services import sessionbatch as batch
from portal.services import sessions as svc
from tests.unit.sessions.sessionfakes import session_data


def _orders(session_id: int) -> list[Order]:
    return list(db.session.query(Order).filter_by(kind="session", ref_id=session_id))


def test_batch_created_sessions_each_have_one_order(world):
    mona = world["mona"]
    created = batch.batch_create(mona, session_data(name="course"), {"ursula": 2, "mona": 1})
    assert len(created) == 3
    for session in created:
        order, = _orders(session.id)
        assert order.user_id == session.user_id  # the member's order, not the manager's
        assert order.slurm_job_id == session.slurm_job_id and order.account == "proja"
    # the worker's pass finds nothing missing and makes no second order
    assert approvals.ensure_orders(world["backend"].scheduler) == 0
    assert all(len(_orders(s.id)) == 1 for s in created)


def test_accepted_session_becomes_an_order_then(world, monkeypatch, image_app, tmp_path):
    from tests.unit.sessions.test_sessions_acceptance import CUSTOM, _image

    image_app.config["IMAGE_STORE"] = str(tmp_path / "store")
    ursula, mona = world["ursula"], world["mona"]
    monkeypatch.setattr(sessionaccept, "_check_still_valid", lambda s: None)
    _image(mona)
    theirs, = batch.batch_create(mona, session_data(name="c", **CUSTOM), {"ursula": 1})
    assert _orders(theirs.id) == []  # nothing submitted, nothing ordered
    session = sessionaccept.accept(ursula, theirs.id)
    order, = _orders(session.id)
    assert order.slurm_job_id == session.slurm_job_id and order.user_id == ursula.id


def test_a_session_without_an_order_gets_one_and_its_charge_links(world):
    """A row made by an older release (or any path that forgot) is backfilled by the worker;
    a charge that came first points at the order afterwards."""
    session = svc.create_session(world["ursula"], session_data(name="old"))
    db.session.query(Order).delete()
    session.created_at = db.utcnow() - timedelta(hours=1)
    charge = WalletTransaction(project_id=session.project_id, account="proja", kind="charge",
                               amount=Decimal("-0.10"), occurred_at=db.utcnow(),
                               job_id=session.slurm_job_id, service="jupyter", user="nobody")
    db.session.add(charge)
    db.session.commit()
    assert approvals.worker_step(world["backend"].scheduler, []).get("orders_synced") == 1
    order, = _orders(session.id)
    assert [e.kind for e in order.events] == ["created", "recorded_late"]
    db.session.expire_all()
    assert db.session.get(WalletTransaction, charge.id).order_id == order.id
    assert approvals.ensure_orders(world["backend"].scheduler) == 0


def test_charge_finds_the_order_when_slurm_got_the_job_under_a_new_id(world):
    session = svc.create_session(world["ursula"], session_data(name="moved"))
    order, = _orders(session.id)
    db.session.get(Session, session.id).slurm_job_id = "99999"
    db.session.commit()
    assert wallet._order_ids(["99999"]) == {"99999": order.id}
    approvals.ensure_orders(world["backend"].scheduler)
    db.session.commit()
    assert db.session.get(Order, order.id).slurm_job_id == "99999"
    assert [e.kind for e in db.session.get(Order, order.id).events][-1] == "resubmitted"
