"""Issue #13: no database transaction with writes is open while the wallet's Slurm
commands run (a top-up's budget sync, the worker's budget step: scontrol, sacctmgr);
tests/support/txguard.py watches the fake budget and sacctmgr."""

from __future__ import annotations

import pytest

from portal.services import wallet as svc
from tests.support.txguard import TxGuard
from tests.unit.wallet.conftest import record


@pytest.fixture
def guard(app, monkeypatch, budget, fake):
    watched = TxGuard(app, monkeypatch).watch(budget, fake)
    yield watched
    watched.close()


def test_budget_syncs_run_outside_a_write(app, project, people, budget, ctx, guard):
    budget.qos["p_tproj"] = [None, 500]
    svc.top_up(people["ada"], project, "1")  # first sync: the budget row is new
    assert budget.qos["p_tproj"][0] == 500 + 6000
    record(20, billing=10, elapsed=600, qos="other")  # charged, then the limit moves
    budget.qos["p_tproj"][1] = 0  # and slurmctld's usage was reset
    svc.worker_step()
    assert budget.qos["p_tproj"][0] == svc.money_to_minutes(svc.balance(project))
    assert sum(c == "FakeBudget.set_limit" for c in guard.calls) == 2
    guard.assert_clean()
