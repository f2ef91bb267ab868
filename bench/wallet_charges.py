"""Cost of the wallet's worker step with a large accounting table (F11).

    .venv/bin/python bench/wallet_charges.py [-n 200000] [--new 100]

Fills `accounting_records` with N finished allocations of 20 projects, then times:

1. the first charging run (every record charged, committed in batches of 500);
2. an idle run (nothing new: one anti-join query) — the worker's usual cycle;
3. a run with `--new` new records;
4. a year of one project's transactions filtered by service, as the wallet page asks.

Ratios are against the idle run measured in the same process. No Slurm is involved
(enforcement off): the budget sync is one `scontrol` call per cycle plus one `sacctmgr`
per project whose limit drifted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from portal import create_app, db  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import AccountingRecord, Project  # noqa: E402
from portal.services import wallet  # noqa: E402


def _fill(n: int, start_id: int, projects: list[str], base) -> None:
    rows = []
    for i in range(start_id, start_id + n):
        end = base + timedelta(seconds=i * 7)
        rows.append({"job_id": str(i), "user": "alice", "account": projects[i % len(projects)],
                     "partition": "gpu", "qos": "", "state": "COMPLETED",
                     "start_at": end - timedelta(seconds=600), "end_at": end,
                     "elapsed_s": 600, "alloc_cpus": 1, "alloc_mem_mb": 500, "alloc_gpus": 0,
                     "billing": 1 + i % 40, "comment": "",
                     "service": ("job", "session", "schedule", "shell")[i % 4],
                     "imported_at": end, "submit_at": end})
    db.session.execute(AccountingRecord.__table__.insert(), rows)
    db.session.commit()


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--new", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url,
                          "WALLET_ENFORCE": False})
        with app.app_context():
            base = db.utcnow() - timedelta(days=300)
            names = [f"bench{i:02d}" for i in range(20)]
            for name in names:
                db.session.add(Project(account=name, name=name, qos_name=None,
                                       extra_qos=[], created_at=base - timedelta(days=1)))
            db.session.commit()
            _fill(args.n, 1, names, base)
            first, charged = _timed(wallet.worker_step)
            idle, quiet = _timed(wallet.worker_step)
            _fill(args.new, args.n + 1, names, base)
            some, fresh = _timed(wallet.worker_step)
            project = db.session.scalar(select(Project).where(Project.account == "bench00"))
            filters = wallet.parse_filters({"from": (base.date()).isoformat(),
                                            "to": (base.date() + timedelta(days=365)).isoformat(),
                                            "service": "job"})
            page, listing = _timed(lambda: (wallet.transactions(project, filters),
                                            wallet.balance(project.id)))
        print(f"records: {args.n}; first run charged {charged['wallet_charged']} in "
              f"{first:.2f} s")
        print(f"idle run: {idle * 1000:.1f} ms (charged {quiet['wallet_charged']})")
        print(f"run with {args.new} new: {some * 1000:.1f} ms (charged "
              f"{fresh['wallet_charged']}), {some / idle:.1f}x idle")
        print(f"wallet page query (a year, one service, {listing[0].count} matching): "
              f"{page * 1000:.1f} ms, {page / idle:.2f}x idle")
        print(f"first run / idle run: {first / idle:.0f}x")


if __name__ == "__main__":
    main()
