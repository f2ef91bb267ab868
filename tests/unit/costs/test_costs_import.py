"""The incremental sacct import: watermark, overlap, upsert by job id, service from the tag."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.errors import SlurmUnreachable
from adapters.scheduler import accounting as acc
from portal import db
from portal.models import AccountingRecord
from portal.services import accounting_import as imp

T0 = datetime(2026, 11, 1, 12, 0, 0)


def row(jid, end, *, comment="", billing=10, elapsed=60, state="COMPLETED"):
    return acc.AccountingRow(
        job_id=str(jid), user="alice", account="proja", partition="gpu", qos="normal",
        state=state, submit_at=end - timedelta(seconds=elapsed + 5),
        start_at=end - timedelta(seconds=elapsed), end_at=end, elapsed_s=elapsed,
        tres=acc.TresAlloc(cpus=1, mem_mb=500, gpus=1, gpu_model="a100", billing=billing),
        comment=comment)


class FakeSource:
    """sacct over a list of rows: returns those that ended at or after `since`."""

    def __init__(self, rows=()):
        self.rows = list(rows)
        self.calls = []
        self.down = False

    def finished(self, since, until=None):
        self.calls.append((since, until))
        if self.down:
            raise SlurmUnreachable("slurmdbd down", ["sacct"], "", 1)
        return [r for r in self.rows if r.end_at >= since
                and (until is None or r.end_at <= until)], ["one odd line"]


def count():
    return db.session.scalar(select(func.count()).select_from(AccountingRecord))


def test_first_run_then_only_new(app):
    with app.app_context():
        app.config["ACCOUNTING_HISTORY_DAYS"] = 30
        src = FakeSource([row(i, T0 + timedelta(minutes=i)) for i in range(1, 6)])
        now = T0 + timedelta(hours=1)
        assert imp.import_new(source=src, now=now) == 5
        assert src.calls == [(now - timedelta(days=30), None)]  # one call, until "now"
        assert imp.watermark() == T0 + timedelta(minutes=5)
        # second run: one window from watermark − overlap; nothing is new
        src.calls.clear()
        assert imp.import_new(source=src, now=now) == 0
        assert src.calls == [(T0 + timedelta(minutes=5 - imp.DEFAULT_OVERLAP_MINUTES), None)]
        src.rows.append(row(6, T0 + timedelta(minutes=30)))
        assert imp.import_new(source=src, now=now) == 1
        assert count() == 6


def test_late_record_inside_overlap_is_caught_and_changes_update(app):
    with app.app_context():
        src = FakeSource([row(1, T0)])
        imp.import_new(source=src, now=T0)
        src.rows += [row(2, T0 - timedelta(minutes=5))]  # slurmdbd stored it late
        src.rows[0] = row(1, T0, billing=99)  # sacct now says something else
        assert imp.import_new(source=src, now=T0) == 2
        assert db.session.scalar(select(AccountingRecord.billing)
                                 .where(AccountingRecord.job_id == "1")) == 99
        assert count() == 2


def test_duplicate_ids_in_one_answer(app):
    with app.app_context():
        src = FakeSource([row(1, T0), row(1, T0, billing=5)])
        assert imp.import_new(source=src, now=T0) == 1
        assert count() == 1


def test_service_from_comment(app, make_user):
    from portal.models import Job

    with app.app_context():
        assert imp.service_of("portal-session-abc") == "session"
        assert imp.service_of("portal-job-abc") == "job"
        assert imp.service_of("portal-job-abc", {"abc"}) == "schedule"
        assert imp.service_of("") == imp.service_of("portal-job-") == "shell"
        assert imp.service_of("my own comment") == "shell"
        cols = {c.name for c in Job.__table__.columns}
        assert {"uuid", "schedule_id"} <= cols
        src = FakeSource([row(1, T0, comment="portal-session-x"),
                          row(2, T0, comment="portal-job-y"), row(3, T0, comment="hello")])
        imp.import_new(source=src, now=T0)
        got = dict(db.session.execute(select(AccountingRecord.job_id,
                                             AccountingRecord.service)).all())
        assert got == {"1": "session", "2": "job", "3": "shell"}


def test_unreachable_changes_nothing(app):
    with app.app_context():
        src = FakeSource([row(1, T0)])
        src.down = True

        class Sched:
            pass

        import portal.services.accounting_import as module

        original = module.SlurmAccounting.from_scheduler
        module.SlurmAccounting.from_scheduler = classmethod(lambda cls, s, operator=None: src)
        try:
            summary = imp.worker_step(Sched())
        finally:
            module.SlurmAccounting.from_scheduler = original
        assert summary["accounting_imported"] == 0 and "slurmdbd down" in \
            summary["accounting_error"]
        assert count() == 0


def test_store_many_in_chunks(app):
    with app.app_context():
        rows = [row(i, T0 + timedelta(seconds=i)) for i in range(imp.CHUNK * 2 + 7)]
        assert imp.store(rows) == len(rows)
        assert imp.store(rows) == 0
        assert count() == len(rows)


def test_a_window_that_times_out_is_split(app):
    from adapters.errors import CommandTimeout

    class Slow(FakeSource):
        def finished(self, since, until=None):
            stop = until or T0 + timedelta(days=1)
            if stop - since > timedelta(days=3):
                self.calls.append(("timeout", since, until))
                raise CommandTimeout("sacct timed out", ["sacct"], "")
            return super().finished(since, until)

    with app.app_context():
        app.config["ACCOUNTING_HISTORY_DAYS"] = 10
        now = T0 + timedelta(days=1)
        src = Slow([row(i, T0 - timedelta(days=i)) for i in range(8)])
        assert imp.import_new(source=src, now=now) == 8
        windows = [c for c in src.calls if c[0] != "timeout"]
        assert windows[0][0] == now - timedelta(days=10) and windows[-1][1] is None
        assert all(b[0] == a[1] for a, b in zip(windows, windows[1:], strict=False))
        assert count() == 8

        class Dead(FakeSource):
            def finished(self, since, until=None):
                raise CommandTimeout("sacct timed out", ["sacct"], "")

        with pytest.raises(CommandTimeout):
            imp.import_new(source=Dead(), now=now)
