"""Wallet tests: a fake sacctmgr and a fake Slurm budget, people, a project with a QOS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.budget import BillingBudget
from portal import db
from portal.models import AccountingRecord
from tests.support.projectworld import ctx, fake, people, project  # noqa: F401 - fixtures


class FakeBudget:
    """slurmctld's QOS budgets: limit (None: none) and the billing-minutes used."""

    def __init__(self):
        self.qos: dict[str, list] = {}
        self.sets: list[tuple[str, int | None]] = []
        self.down = False

    def _check(self):
        if self.down:
            from adapters.errors import SlurmUnreachable

            raise SlurmUnreachable("Unable to contact slurm controller", ["scontrol"], "", 1)

    def read_all(self):
        self._check()
        return {n: BillingBudget(n, limit, used, used * 60.0)
                for n, (limit, used) in self.qos.items()}

    def read(self, name):
        return self.read_all().get(name)

    def set_limit(self, name, minutes):
        self._check()
        self.sqos(name)[0] = minutes
        self.sets.append((name, minutes))
        return True

    def sqos(self, name):
        return self.qos.setdefault(name, [None, 0])


@pytest.fixture
def budget(app):
    fake_budget = FakeBudget()
    app.extensions["budget"] = fake_budget
    app.config["WALLET_ENFORCE"] = True
    return fake_budget


def record(job_id, account="tproj", *, billing=10, elapsed=3600, service="job",
           qos="p_tproj", end=None, user="bin", state="COMPLETED") -> AccountingRecord:
    end = end or db.utcnow() + timedelta(minutes=1)
    row = AccountingRecord(
        job_id=str(job_id), user=user, account=account, partition="gpu", qos=qos,
        state=state, start_at=end - timedelta(seconds=elapsed), end_at=end,
        elapsed_s=elapsed, alloc_cpus=1, alloc_gpus=0, billing=billing, comment="",
        service=service)
    db.session.add(row)
    db.session.commit()
    return row
