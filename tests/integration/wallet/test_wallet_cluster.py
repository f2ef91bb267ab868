"""The wallet against the real dev cluster (Slurm 22.05): an empty wallet is a zero
GrpTRESMins=billing budget on the project QOS, so Slurm keeps the next job pending with
QOSGrpBillingMinutes and the wallet page says why; a top-up lets it run; its charge equals
sacct's billing × elapsed time, and the budget is not reduced twice for it.

The test works on its own account ("t" + random hex) and QOS, removed at the end with its
jobs; proja and projb are never touched.
"""

from __future__ import annotations

import html
import secrets
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from adapters.accounts import SlurmAccounts
from adapters.budget import SlurmBudget
from adapters.runner import CommandRunner
from adapters.scheduler import JobSpec, SlurmScheduler
from portal import db
from portal.models import AccountingRecord, Project, WalletTransaction
from portal.services import cluster, projects, users
from portal.services import wallet as svc
from portal.services.projects import OPERATOR
from tests.conftest import PASSWORD
from tests.support.slurmaccounts import drop_accounts, require_slurmdbd
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("wallet")]
SHORT = "#!/bin/sh\nsleep 4\n"
SACCT_FIELDS = "JobIDRaw,User,Account,QOS,State,Start,End,ElapsedRaw,AllocTRES,AllocCPUS"


@pytest.fixture
def env(app):
    require_slurmdbd()
    account = "t" + secrets.token_hex(5)
    app.config["WALLET_ENFORCE"] = True
    with app.test_request_context("/"):
        for name in ("alice", "bob"):
            users.create_user(name, password=PASSWORD)
        users.create_user("root-admin", unix_user="nobody", password=PASSWORD, is_admin=True)
        yield account
        db.session.rollback()
    drop_accounts(account, qos=f"p_{account}")


def _wait_for(predicate, what: str, timeout: float = 60.0):
    return wait_for(predicate, timeout, what=what)


def _sacct(job_id: str) -> dict | None:
    out = CommandRunner().run(["sacct", "-X", "-P", "-n", "-j", job_id,
                               f"--format={SACCT_FIELDS}"]).stdout
    for line in out.splitlines():
        values = dict(zip(SACCT_FIELDS.split(","), line.split("|"), strict=True))
        if values["JobIDRaw"] == job_id and values["End"] not in ("", "Unknown", "None"):
            return values
    return None


def _imported(job_id: str, scheduler) -> AccountingRecord | None:
    """The worker's sacct import of the job (portal.services.accounting_import), if any."""
    try:
        from portal.services import accounting_import
    except ImportError:  # pragma: no cover - the import feature is not there
        return None

    def attempt():
        accounting_import.worker_step(scheduler)
        return db.session.scalar(select(AccountingRecord).where(
            AccountingRecord.job_id == job_id))

    return _wait_for(attempt, "the sacct import to store the job", timeout=60)


def _record_from_sacct(row: dict) -> AccountingRecord:
    """What the sacct import stores, done by hand where that feature is missing."""
    tres = dict(item.split("=", 1) for item in row["AllocTRES"].split(",") if "=" in item)
    record = AccountingRecord(
        job_id=row["JobIDRaw"], user=row["User"], account=row["Account"], qos=row["QOS"],
        state=row["State"], start_at=datetime.fromisoformat(row["Start"]),
        end_at=datetime.fromisoformat(row["End"]), elapsed_s=int(row["ElapsedRaw"]),
        alloc_cpus=int(row["AllocCPUS"]), billing=int(tres["billing"]), service="shell")
    db.session.add(record)
    db.session.commit()
    return record


def test_empty_wallet_keeps_the_next_job_pending_until_a_top_up(env, app, client, auth):
    account = env
    qos = f"p_{account}"
    project = projects.create_project(OPERATOR, account=account, name=f"IT {account}",
                                      managers=["alice"], members=["bob"])
    # The worker sets the empty wallet's budget: zero billing-minutes, never decayed.
    summary = svc.worker_step()
    assert summary["wallet_synced"] >= 1
    [shown] = SlurmAccounts().qos([qos])
    assert "NoDecay" in shown.flags
    assert SlurmBudget().read(qos).limit_minutes == 0

    scheduler = SlurmScheduler()
    spec = JobSpec(script=SHORT, job_name=f"it-{account}", account=account, time=1, cpus=1,
                   partition="cpu")
    job_id = scheduler.submit(spec, as_user="alice")
    _wait_for(lambda: scheduler.info(job_id).reason == "QOSGrpBillingMinutes",
              "QOSGrpBillingMinutes")
    cluster.refresh(scheduler)
    auth.login("alice", PASSWORD)
    page = html.unescape(client.get(f"/wallet/{project.id}").get_data(as_text=True))
    assert "Waiting for the budget" in page and f"<code>{job_id}</code>" in page
    assert "QOSGrpBillingMinutes" in page and 'data-testid="budget-empty"' in page

    admin = users.get_user("root-admin")
    svc.top_up(admin, project.id, "0.05", "integration test")  # 300 billing-minutes
    assert SlurmBudget().read(qos).limit_minutes == 300
    _wait_for(lambda: scheduler.info(job_id).state in ("running", "completing", "completed"),
              "the job to start after the top-up", timeout=90)
    row = _wait_for(lambda: _sacct(job_id), "sacct to show the job's end", timeout=90)

    record = _imported(job_id, scheduler) or _record_from_sacct(row)
    assert svc.charge_finished() == 1 and svc.charge_finished() == 0
    charge = db.session.scalar(select(WalletTransaction).where(
        WalletTransaction.job_id == job_id))
    # By hand from sacct: billing × ElapsedRaw seconds / 3600 h, 1 billing·h = 0.01.
    billing = int(dict(i.split("=", 1) for i in row["AllocTRES"].split(","))["billing"])
    by_hand = (Decimal(billing * int(row["ElapsedRaw"])) / 3600 / 100).quantize(
        Decimal("0.0001"), ROUND_HALF_UP)
    assert charge.amount == -by_hand and charge.billing == record.billing == billing >= 1
    assert charge.elapsed_s == int(row["ElapsedRaw"]) > 0
    assert charge.order_id is None and charge.service == "shell"
    # The job ran in the project QOS: Slurm counts its usage itself, so the limit stays.
    svc.worker_step()
    assert SlurmBudget().read(qos).limit_minutes == 300
    usage = _wait_for(lambda: SlurmBudget().read(qos).usage_raw or None,
                      "slurmctld to count the job's usage", timeout=30)
    # slurmctld counts the unrounded billable TRES (1 CPU + 500 MB × 0.25/GB = 1.12), sacct
    # shows billing=1: the budget is consumed a little faster than the charges.
    assert usage >= record.billing * int(row["ElapsedRaw"])
    assert svc.balance(project.id) == Decimal("0.05") - by_hand
    assert db.session.get(Project, project.id).qos_name == qos
