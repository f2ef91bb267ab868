"""The wallet's rules: amounts, the cost definition, charges once per job, top-ups, filters
and the budget Slurm enforces (against a fake scontrol/sacctmgr)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import db
from portal.models import AuditEvent, WalletTransaction
from portal.services import Forbidden, ServiceError
from portal.services import wallet as svc
from tests.unit.wallet.conftest import record


@pytest.mark.parametrize("value,expected", [
    ("100", "100.00"), ("12.5", "12.50"), (" 1,000.25 ", "1000.25"), (7, "7.00"),
    (0.1, "0.10"), ("1e3", "1000.00")])
def test_amounts_accepted(value, expected):
    assert str(svc.parse_amount(value)) == expected


@pytest.mark.parametrize("value", [
    "", None, "abc", "-5", "0", "0.00", "NaN", "inf", "-inf", "1.001", "12,5.3.1",
    "10000000000", True, "1e400", "５"])
def test_amounts_refused_clearly(value):
    with pytest.raises(ServiceError) as refused:
        svc.parse_amount(value)
    assert refused.value.code == "invalid_amount" and str(refused.value.message)


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.decimals()))
def test_parse_amount_only_accepts_or_refuses(value):
    try:
        amount = svc.parse_amount(value)
    except ServiceError as exc:
        assert exc.code == "invalid_amount"
    else:
        assert Decimal("0") < amount <= svc.MAX_TOPUP and amount == amount.quantize(svc.CENT)


def test_cost_is_billing_times_hours_in_cents(app):
    with app.app_context():
        assert svc.cost_of(10, 3600) == Decimal("0.1000")  # 10 billing·h = 10 cents
        assert svc.cost_of(1, 20) == Decimal("0.0001")  # rounded to 4 places
        assert svc.cost_of(0, 999) == 0
        assert svc.money_to_minutes(Decimal("1")) == 6000  # 1.00 = 100 billing·h
        assert svc.money_to_minutes(Decimal("-0.005")) == -30
        assert svc.minutes_to_money(6000) == Decimal("1.0000")
        app.config["BILLING_UNITS_PER_CURRENCY"] = 1
        assert svc.cost_of(10, 3600) == Decimal("10.0000")


BARE = Flask("wallet-tests")


@given(billing=st.integers(0, 10_000), elapsed=st.integers(0, 10**7))
def test_cost_matches_billing_minutes(billing, elapsed):
    with BARE.app_context():
        cost = svc.cost_of(billing, elapsed)
        exact = Decimal(billing * elapsed) / 60  # billing-minutes, as Slurm counts them
        assert abs(svc.money_to_minutes(cost) - exact) <= Decimal("0.0001") * 6000 + 1


def test_each_finished_job_is_charged_exactly_once(app, project, ctx):
    record(1, billing=10, elapsed=3600)
    record(2, billing=3, elapsed=120, service="session")
    record(3, billing=5, elapsed=0)  # never ran: nothing to charge
    record(4, account="elsewhere")  # not a portal project
    record(5, end=db.utcnow() - timedelta(days=3))  # before the project joined the portal
    assert svc.charge_finished() == 2
    assert svc.charge_finished() == 0
    record(6, billing=1, elapsed=60, service="schedule")
    assert svc.charge_finished(batch=1) == 1
    rows = {t.job_id: t for t in db.session.scalars(select(WalletTransaction))}
    assert set(rows) == {"1", "2", "6"}
    assert rows["1"].amount == Decimal("-0.1000") and rows["2"].service == "session"
    assert rows["2"].amount == -svc.cost_of(3, 120)
    assert svc.balance(project) == -(svc.cost_of(10, 3600) + svc.cost_of(3, 120)
                                     + svc.cost_of(1, 60))


def test_a_duplicate_charge_is_refused_by_the_database(app, project, ctx):
    from sqlalchemy.exc import IntegrityError

    rec = record(7)
    svc.charge_finished()
    db.session.add(svc._charge(rec, project, None))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(func.count(WalletTransaction.id))) == 1


def test_concurrent_worker_duplicates_are_dropped_not_doubled(app, project, ctx):
    recs = [record(j) for j in (8, 9)]
    db.session.add(svc._charge(recs[0], project, None))
    db.session.commit()  # another worker charged it after our batch was read
    assert svc._charge_one_by_one([(r, project) for r in recs]) == 1
    assert db.session.scalar(select(func.count(WalletTransaction.id))) == 2


def test_only_admins_top_up_and_it_is_audited(app, project, people, ctx):
    with pytest.raises(Forbidden):
        svc.top_up(people["mia"], project, "10")
    with pytest.raises(ServiceError):
        svc.top_up(people["ada"], project, "-10")
    assert svc.balance(project) == 0
    tx = svc.top_up(people["ada"], project, "25.50", "grant 42")
    assert tx.amount == Decimal("25.50") and svc.balance(project) == Decimal("25.5")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet.topup"))
    assert event.target == "tproj" and event.details == {"amount": "25.50", "note": "grant 42"}
    assert event.actor_name == "ada"


def test_filters_by_time_type_and_service(app, project, people, ctx):
    old = db.utcnow() - timedelta(days=400)
    svc.top_up(people["ada"], project, "100")
    record(10, service="job")
    record(11, service="session")
    svc.charge_finished()
    db.session.add(WalletTransaction(project_id=project, account="tproj", kind="topup",
                                     amount=Decimal(5), occurred_at=old, note="old"))
    db.session.commit()
    p = svc.get_project(people["max"], project)

    def listing(**args):
        return svc.transactions(p, svc.parse_filters(args))

    assert listing().count == 4
    assert {t.job_id for t in listing(type="charge").rows} == {"10", "11"}
    assert [t.job_id for t in listing(service="session").rows] == ["11"]
    today = db.utcnow().date()
    assert listing(**{"from": (today - timedelta(days=1)).isoformat()}).count == 3
    assert listing(to=(today - timedelta(days=300)).isoformat()).count == 1
    ten_years = listing(**{"from": "2020-01-01", "to": "2030-12-31"})
    assert ten_years.count == 4 and ten_years.topups == Decimal("105")
    assert ten_years.charges == 2 * svc.cost_of(10, 3600)
    assert svc.transactions(p, svc.Filters(), limit=2).truncated
    for bad, code in (({"from": "2024-02-30"}, "invalid_date"),
                      ({"from": "2025-01-02", "to": "2025-01-01"}, "invalid_range"),
                      ({"type": "refund"}, "invalid_type"),
                      ({"service": "x"}, "invalid_service")):
        with pytest.raises(ServiceError) as refused:
            svc.parse_filters(bad)
        assert refused.value.code == code


def test_budget_first_sync_is_usage_plus_balance(app, project, people, budget, ctx):
    budget.qos["p_tproj"] = [None, 500]  # usage from before the wallet
    svc.top_up(people["ada"], project, "1")  # syncs right away
    assert budget.qos["p_tproj"][0] == 500 + 6000
    record(20, billing=10, elapsed=600, qos="p_tproj")  # 100 billing-minutes in the QOS
    budget.qos["p_tproj"][1] += 100  # which slurmctld counted itself
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == 6500  # not charged twice
    assert svc.balance(project) == Decimal("1") - svc.cost_of(10, 600)
    record(21, billing=10, elapsed=600, qos="other")  # ran under another QOS
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == 6400
    before = len(budget.sets)
    svc.worker_step()
    assert len(budget.sets) == before  # no drift, no sacctmgr call
    budget.qos["p_tproj"][0] = 99_999  # changed by hand
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == 6400
    budget.qos["p_tproj"][1] = 0  # usage reset: limit = used + balance again
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == svc.money_to_minutes(svc.balance(project))
    view = svc.budget_view(svc.get_project(people["ada"], project))
    assert view.enforced and view.left_minutes == budget.qos["p_tproj"][0]


def test_empty_wallet_means_a_zero_budget(app, project, people, budget, ctx):
    budget.qos["p_tproj"] = [None, 0]
    record(30, billing=100, elapsed=3600)
    assert svc.worker_step()["wallet_synced"] == 1
    assert budget.qos["p_tproj"][0] == 0 and svc.balance(project) < 0


def test_slurm_down_keeps_the_topup_and_records_the_error(app, project, people, budget, ctx):
    budget.down = True
    svc.top_up(people["ada"], project, "5")
    assert svc.balance(project) == 5
    view = svc.budget_view(svc.get_project(people["ada"], project))
    assert "slurm controller" in view.error
    assert svc.worker_step()["wallet_error"]
    budget.down = False
    budget.qos["p_tproj"] = [None, 7]
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == 7 + 30000


def test_projects_without_a_qos_are_not_enforced(app, project, people, budget, ctx):
    from portal.models import Project

    p = db.session.get(Project, project)
    p.qos_name = None
    db.session.commit()
    assert svc.sync_budget(p) is None
    assert "no project QOS" in str(svc.budget_view(p).why_not)
    assert svc.worker_step() == {"wallet_charged": 0, "wallet_synced": 0}


def test_enforcement_is_off_by_default_under_testing(app, project, people, ctx):
    assert not svc.enforcing()
    p = svc.get_project(people["ada"], project)
    assert not svc.budget_view(p).enforced
