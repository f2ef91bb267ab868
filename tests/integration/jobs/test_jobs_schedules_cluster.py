"""F8 on the real dev cluster: every upcoming run is a real pending Slurm job.

The one slow test waits for real minute boundaries (about two and a half minutes) and
runs its single-line and multi-line schedules side by side. The fault tests use a daily
trigger, so their runs stay pending and nothing waits for the clock.
"""

import threading
import time

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Job, Schedule, ScheduleEvent
from portal.services import jobs as jobsvc
from portal.services import jobtemplates, schedrun, schedules
from tests.integration.jobs.jobhelpers import add_member, cycle, ours, wait_for

pytestmark = pytest.mark.integration


def _template(alice, name, command):
    return jobtemplates.create_template(alice, {"name": name, "cpus": 1, "mem_gb": 1,
                                                "image": "base", "command": command})


def _schedule(alice, template, name, cron, mode="single"):
    return schedules.create_schedule(alice, {
        "name": name, "cron": cron, "timezone": "Asia/Taipei", "template_id": template.id,
        "mode": mode})


def _runs(schedule_id):
    return db.session.query(Job).filter_by(schedule_id=schedule_id).order_by(Job.id).all()


def test_every_minute_single_line_never_overlaps_and_multi_line_does(cluster_ctx, prefix,
                                                                      slurm):
    alice = add_member("alice", "proja")
    template = _template(alice, prefix, "sleep 80")
    single = _schedule(alice, template, f"{prefix}s", "* * * * *", "single").id
    multi = _schedule(alice, template, f"{prefix}m", "* * * * *", "multi").id
    assert len(ours(slurm, prefix, pending_only=True)) == 2  # at once, visible to squeue

    def done():
        s_runs, m_runs = _runs(single), _runs(multi)
        s_started = [r for r in s_runs if r.started_at]
        m_ended = [r for r in m_runs if r.ended_at]
        m_started = [r for r in m_runs if r.started_at]
        return len(s_started) >= 2 and len(m_started) >= 2 and m_ended

    wait_for(done, 200, step=2, cycle_app=cluster_ctx, what="two runs of each schedule")
    s1, s2 = _runs(single)[:2]
    m1, m2 = _runs(multi)[:2]
    assert s2.run_at - s1.run_at == m2.run_at - m1.run_at
    assert s1.ended_at and s2.started_at >= s1.ended_at  # single-line: waited for run 1
    assert m2.started_at < m1.ended_at  # multi-line: ran while run 1 was still running
    for schedule_id in (single, multi):
        [pending] = [r for r in _runs(schedule_id) if r.upcoming]
        assert slurm.info(pending.slurm_job_id).state.value in ("queued", "queued_held",
                                                                "running")
        schedules.delete_schedule(alice, schedule_id)


def _pending_for(slurm, name):
    return [j for j in ours(slurm, name, pending_only=True)]


def test_skip_one_run_by_cancelling_it_from_the_shell(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    schedule = _schedule(alice, _template(alice, prefix, "true"), prefix, "0 3 * * *")
    [first] = _pending_for(slurm, prefix)
    assert first.reason == "BeginTime" and first.name == f"{prefix}-1"
    CommandRunner().run(["scancel", "--", first.id], as_user="alice")
    wait_for(lambda: [j.name for j in _pending_for(slurm, prefix)] == [f"{prefix}-2"], 60,
             cycle_app=cluster_ctx, what="the next run after the skipped one")
    runs = _runs(schedule.id)
    assert (runs[1].run_at - runs[0].run_at).days == 1
    kinds = [e.kind for e in db.session.query(ScheduleEvent).filter_by(schedule_id=schedule.id)]
    assert "skipped" in kinds
    cycle(cluster_ctx)
    assert len(_pending_for(slurm, prefix)) == 1  # never two


def test_deleting_the_schedule_removes_its_pending_job(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    schedule = _schedule(alice, _template(alice, prefix, "true"), prefix, "0 3 * * *")
    [pending] = _pending_for(slurm, prefix)
    schedules.delete_schedule(alice, schedule.id)
    assert slurm.info(pending.id).state.value == "cancelled"
    cycle(cluster_ctx)
    assert _pending_for(slurm, prefix) == []
    assert db.session.get(Schedule, schedule.id).status == "deleted"


class Crash(BaseException):
    """Ends the cycle the way a killed worker would: no handler runs."""


def test_a_worker_crash_mid_cycle_creates_no_duplicate(cluster_ctx, prefix, slurm,
                                                       monkeypatch):
    cluster_ctx.config["SCHEDULE_LOCK_SECONDS"] = 2
    alice = add_member("alice", "proja")
    schedule = _schedule(alice, _template(alice, prefix, "true"), prefix, "0 3 * * *")
    [first] = _pending_for(slurm, prefix)
    CommandRunner().run(["scancel", "--", first.id], as_user="alice")

    real_launch = jobsvc.launch

    def launch_then_die(job, backend, **kwargs):
        """sbatch runs, then the worker dies before recording the job id or its lease."""
        spec = jobsvc.prepare(job, backend, begin=kwargs.get("begin"),
                              dependency=kwargs.get("dependency"))
        backend.scheduler.submit_idempotent(spec, as_user="alice", tag=jobsvc.tag_of(job))
        raise Crash()

    monkeypatch.setattr(jobsvc, "launch", launch_then_die)
    monkeypatch.setattr(schedrun, "release", lambda *a, **k: None)
    crashed = threading.Thread(target=lambda: _swallow(cluster_ctx))
    crashed.start()
    crashed.join(60)
    monkeypatch.setattr(jobsvc, "launch", real_launch)
    monkeypatch.undo()
    db.session.rollback()
    [recorded] = [r for r in _runs(schedule.id) if r.upcoming]
    assert recorded.slurm_job_id is None  # the crash lost sbatch's answer
    assert len(_pending_for(slurm, prefix)) == 1
    time.sleep(2.5)  # the dead worker's lease runs out
    for _ in range(3):  # the restarted worker
        cycle(cluster_ctx)
    assert [j.name for j in _pending_for(slurm, prefix)] == [f"{prefix}-2"]
    [adopted] = [r for r in _runs(schedule.id) if r.upcoming]
    assert adopted.slurm_job_id == _pending_for(slurm, prefix)[0].id


def _swallow(app):
    from portal import worker

    try:
        worker.run_cycle(app)
    except Crash:
        pass
