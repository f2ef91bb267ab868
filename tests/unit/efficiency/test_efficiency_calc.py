"""Efficiency at the end (issue #17 item 6): seff's arithmetic, the GPU mean from the
portal's samples, and the worker step storing one row per ended job or session."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.scheduler.accounting import JobUsage
from portal import db
from portal.models import Efficiency, Job, Session, SessionMetric
from portal.services import efficiency
from tests.support.members import ensure_project, make_member

NOW = datetime(2026, 12, 6, 2, 0, 0)


def _usage(job_id, state="COMPLETED", **kw):
    fields = {"elapsed_s": 100, "total_cpu_s": 150.0, "max_rss_mb": 256.0, "alloc_cpus": 2,
              "alloc_mem_mb": 1024, "gpus": 1, **kw}
    return JobUsage(job_id=job_id, state=state, **fields)


class FakeSource:
    def __init__(self, usage):
        self.usage_by_id, self.asked = usage, []

    def usage(self, ids):
        self.asked.append(list(ids))
        return {i: u for i, u in self.usage_by_id.items() if i in ids}, []


def test_figures_are_seffs_arithmetic():
    row = Efficiency(kind="job", ref_id=1, slurm_job_id="9", state="COMPLETED", elapsed_s=100,
                     total_cpu_s=150.0, alloc_cpus=2, max_rss_mb=256.0, alloc_mem_mb=1024,
                     gpus=1, gpu_util=42.26, gpu_samples=30)
    f = efficiency.figures(row)
    assert (f["cpu_percent"], f["memory_percent"], f["gpu_percent"]) == (75.0, 25.0, 42.3)
    row.max_rss_mb, row.gpus, row.elapsed_s = None, 0, 0
    f = efficiency.figures(row)
    assert (f["cpu_percent"], f["memory_percent"], f["gpu_percent"]) == (None, None, None)


@pytest.fixture
def rows(app):
    with app.test_request_context():
        user = make_member("ursula")
        project_id = ensure_project("proja").id
        common = {"user_id": user.id, "project_id": project_id, "account": "proja",
                  "image": "base", "started_at": NOW - timedelta(minutes=5),
                  "ended_at": NOW - timedelta(minutes=1)}
        job = Job(uuid="j1", name="train", directory="/tmp/x", command="true",
                  slurm_job_id="101", state="completed", **common)
        ses = Session(uuid="s1", name="lab", slurm_job_id="102", state="ended", gpu_count=1,
                      **common)
        running = Job(uuid="j2", name="later", directory="/tmp/y", command="true",
                      slurm_job_id="103", state="running",
                      **{**common, "ended_at": None})
        db.session.add_all([job, ses, running])
        db.session.commit()
        for at, n, util in ((NOW - timedelta(minutes=4), 6, 80.0),
                            (NOW - timedelta(minutes=3), 6, 20.0)):
            db.session.add(SessionMetric(session_id=ses.id, resolution=10, at=at, n=n,
                                         gpu_util=util))
        db.session.add(SessionMetric(session_id=ses.id, resolution=60, at=NOW, n=2,
                                     gpu_util=99.0))  # fewer samples: not the one used
        db.session.commit()
        yield {"job": job, "session": ses}
        db.session.remove()


def test_worker_stores_one_row_each_and_only_once(rows):
    source = FakeSource({"101": _usage("101"), "102": _usage("102", gpus=1),
                         "103": _usage("103", state="RUNNING")})
    assert efficiency.collect(None, now=NOW, source=source) == 2
    assert source.asked == [["101", "102"]]  # the running job is not asked about
    assert efficiency.of("job", rows["job"].id)["cpu_percent"] == 75.0
    ses = efficiency.of("session", rows["session"].id)
    assert ses["gpu_percent"] == 50.0 and ses["gpu_samples"] == 12
    assert efficiency.collect(None, now=NOW, source=source) == 0  # never twice
    assert db.session.query(Efficiency).count() == 2


def test_a_job_sacct_does_not_know_yet_is_asked_again(rows):
    source = FakeSource({"101": _usage("101", state="RUNNING")})
    assert efficiency.collect(None, now=NOW, source=source) == 0
    source.usage_by_id = {"101": _usage("101"), "102": _usage("102")}
    assert efficiency.collect(None, now=NOW, source=source) == 2


def test_old_endings_are_history(rows):
    source = FakeSource({"101": _usage("101"), "102": _usage("102")})
    assert efficiency.collect(None, now=NOW + efficiency.WINDOW, source=source) == 0
    assert source.asked == []
