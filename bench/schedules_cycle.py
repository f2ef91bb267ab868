"""Cost of the worker's job and schedule steps with many active schedules (F8).

    .venv/bin/python bench/schedules_cycle.py [-n 1000] [--due 100]

Creates N every-minute schedules through the real service (each submits its first run)
against an in-memory Slurm stand-in that counts sbatch calls, then times:

1. a cycle where nothing is due (every upcoming run still pending): target <= 1 s and
   zero sbatch calls;
2. a cycle where `--due` of the upcoming runs have started: exactly that many sbatch
   calls (each schedule gets its next run).

The portal's own work is measured (database, cron arithmetic, script rendering); the
stand-in answers instantly, so Slurm's latency is not part of the numbers.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.scheduler import JobInfo, JobState  # noqa: E402
from portal import create_app, db  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import Membership, Project  # noqa: E402
from portal.services import cluster, jobsync, jobtemplates, schedrun, schedules, users  # noqa: E402
from portal.services import jobs as jobsvc  # noqa: E402


class StandInSlurm:
    """Answers like SlurmScheduler, instantly, from a dict; counts what it is asked."""

    def __init__(self):
        self.jobs: dict[str, JobInfo] = {}
        self.ids = itertools.count(1)
        self.sbatch = 0
        self.runner = None

    def submit_idempotent(self, spec, *, as_user, tag):
        self.sbatch += 1
        jid = str(next(self.ids))
        self.jobs[jid] = JobInfo(id=jid, name=spec.job_name, user=as_user,
                                 state=JobState.QUEUED, slurm_state="PENDING",
                                 reason="BeginTime", comment=replace(spec, comment=tag).comment)
        return jid

    def info_all(self, *, job_ids=None, **_):
        return [j for j in self.jobs.values() if job_ids is None or j.id in set(job_ids)]

    def history(self, job_ids=None, **_):
        return self.info_all(job_ids=job_ids)

    def find_by_comment(self, tag, *, user=None):
        return next((j for j in self.jobs.values() if j.comment == tag), None)


class StandInFiles:
    def make_dirs(self, *_a, **_k):
        pass

    def write(self, *_a, **_k):
        pass


def setup(count: int, backend) -> None:
    user, _ = users.create_user("bencher", unix_user="nobody", password="correct horse battery")
    project = Project(account="proja", name="A")
    db.session.add(project)
    db.session.commit()
    db.session.add(Membership(user_id=user.id, project_id=project.id))
    db.session.commit()
    template = jobtemplates.create_template(user, {"name": "t", "cpus": 1, "mem_gb": 1,
                                                   "image": "base", "command": "true"})
    for i in range(count):
        schedules.create_schedule(user, {"name": f"s{i}", "cron": "* * * * *",
                                         "timezone": "Asia/Taipei", "template_id": template.id,
                                         "mode": "single" if i % 2 else "multi"}, backend)


def one_cycle(backend) -> float:
    snapshot = [cluster._plain(j) for j in backend.scheduler.info_all()]
    started = time.perf_counter()
    jobsync.sync_jobs(backend, snapshot)
    schedrun.step(backend, snapshot)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--due", type=int, default=100)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-schedules-")
    url = f"sqlite:///{os.path.join(folder, 'portal.db')}"
    upgrade(url)
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
    backend = jobsvc.Backend(StandInSlurm(), StandInFiles())
    with app.test_request_context():
        t0 = time.perf_counter()
        setup(args.n, backend)
        print(f"setup: {args.n} schedules created (first runs submitted) in "
              f"{time.perf_counter() - t0:.1f}s")
        before = backend.scheduler.sbatch
        idle = min(one_cycle(backend) for _ in range(3))
        idle_sbatch = backend.scheduler.sbatch - before
        print(f"nothing due: cycle {idle:.3f}s (target <= 1 s), sbatch calls {idle_sbatch} "
              f"(target 0)")
        now = datetime.now(UTC)
        for job in list(backend.scheduler.jobs.values())[: args.due]:
            job.state, job.slurm_state, job.start_time, job.nodes = (
                JobState.RUNNING, "RUNNING", now, ["vm"])
        before = backend.scheduler.sbatch
        due = one_cycle(backend)
        submitted = backend.scheduler.sbatch - before
        print(f"{args.due} due: cycle {due:.3f}s, sbatch calls {submitted} "
              f"(target {args.due})")
        pending = sum(1 for j in backend.scheduler.jobs.values() if j.state is JobState.QUEUED)
        print(f"pending runs afterwards: {pending} for {args.n} schedules (one each)")
        db.session.remove()
    ok = idle <= 1.0 and idle_sbatch == 0 and submitted == args.due and pending == args.n
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
