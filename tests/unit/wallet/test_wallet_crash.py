"""Charging survives a worker killed mid-cycle: `portal worker --once` in a subprocess is
SIGKILLed inside the charging step (PORTAL_WALLET_TEST_CRASH_AFTER), then run again; every
finished job ends up charged exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import func, select

from portal import db
from portal.config import REPO_ROOT
from portal.models import WalletTransaction
from portal.services import wallet as svc
from tests.unit.wallet.conftest import record

# Ids far above the dev cluster's, so the real sacct import in the cycle never touches them.
JOBS = [str(j) for j in range(990_000_501, 990_000_508)]


def _worker(app, tmp_path, **extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_DATABASE_URL": app.config["DATABASE_URL"],
           "PORTAL_SECRET_KEY": "crash-test", "PORTAL_VAR_DIR": str(tmp_path),
           # TESTING: every step that would change the shared cluster stays off.
           "PORTAL_TESTING": "true", "PORTAL_WALLET_ENFORCE": "false",
           "PORTAL_BILLING_WEIGHTS_APPLY": "false", "PORTAL_WALLET_CHARGE_BATCH": "2",
           **{f"PORTAL_{k}": str(v) for k, v in extra.items()}}
    env.pop("PORTAL_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "portal.cli", "worker", "--once"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def _charged(app) -> list[str]:
    with app.app_context():
        db.session.remove()
        return sorted(db.session.scalars(select(WalletTransaction.job_id)
                                         .where(WalletTransaction.kind == "charge")))


def test_a_killed_worker_neither_double_charges_nor_misses(app, project, tmp_path):
    with app.test_request_context("/"):
        for j in JOBS:
            record(j, billing=int(j) % 1000, elapsed=60)
        expected = sum(svc.cost_of(int(j) % 1000, 60) for j in JOBS)
    # Killed with the batch holding the 5th charge (5-6) inserted but not committed:
    # batches 1-2 and 3-4 are committed.
    first = _worker(app, tmp_path, WALLET_TEST_CRASH_AFTER=5)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert _charged(app) == JOBS[:4]
    # Killed at once on the restart (nothing new committed), then a clean run.
    again = _worker(app, tmp_path, WALLET_TEST_CRASH_AFTER=1)
    assert again.returncode == -signal.SIGKILL and _charged(app) == JOBS[:4]
    done = _worker(app, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"wallet_charged": 3' in done.stdout
    assert _charged(app) == JOBS
    assert _worker(app, tmp_path).returncode == 0 and _charged(app) == JOBS
    with app.app_context():
        assert db.session.scalar(select(func.count(WalletTransaction.id))) == len(JOBS)
        assert svc.balance(project) == -expected
