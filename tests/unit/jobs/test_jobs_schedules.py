"""Schedules (F8): validation, preview, and the engine that keeps exactly one upcoming run."""

from datetime import datetime, timedelta

import pytest

from adapters.scheduler import JobState
from portal import db
from portal.models import Job, Schedule, ScheduleEvent
from portal.services import (
    ServiceError,
    jobdelete,
    jobsync,
    jobtemplates,
    schedrun,
    schedules,
)
from portal.services import jobs as jobsvc
from tests.unit.jobs.conftest import controller_answered


@pytest.fixture
def owner(member):
    return member("ursula")


@pytest.fixture
def template(owner, backend, job_data):
    return jobtemplates.create_template(owner, {**job_data, "name": "nightly"})


def make(owner, template, **fields):
    data = {"name": "every-minute", "cron": "* * * * *", "timezone": "Asia/Taipei",
            "template_id": template.id, "mode": "single", **fields}
    return schedules.create_schedule(owner, data)


def cycle(backend, now=None):
    snapshot = backend.scheduler.snapshot()
    jobsync.sync_jobs(backend, snapshot, now)
    return schedrun.step(backend, snapshot, now)


def upcoming(schedule):
    return db.session.query(Job).filter_by(schedule_id=schedule.id, upcoming=True).all()


def kinds(schedule):
    return [e.kind for e in db.session.query(ScheduleEvent).filter_by(schedule_id=schedule.id)]


def test_creating_a_schedule_submits_its_first_run_as_a_pending_job(owner, template, backend):
    schedule = make(owner, template)
    [run] = upcoming(schedule)
    spec = backend.scheduler.specs[run.slurm_job_id]
    assert run.name == "every-minute-1" and run.state == "pending"
    assert spec.begin is not None and spec.dependency is None
    assert run.run_at > db.utcnow() - timedelta(seconds=1)
    assert run.run_at.second == 0 and run in jobsvc.visible_jobs(owner)
    assert kinds(schedule) == ["created", "submitted"]


def test_a_quiet_cycle_runs_no_command(owner, template, backend):
    make(owner, template)
    backend.scheduler.calls.clear()
    assert cycle(backend) == {}
    assert backend.scheduler.calls == []


@pytest.mark.parametrize("mode,dependency", [("single", True), ("multi", False)])
def test_when_a_run_starts_the_next_is_submitted(owner, template, backend, mode, dependency):
    schedule = make(owner, template, mode=mode)
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.RUNNING)
    assert cycle(backend) == {"submitted": 1}
    [second] = upcoming(schedule)
    assert second.run_at == first.run_at + timedelta(minutes=1)
    spec = backend.scheduler.specs[second.slurm_job_id]
    assert (spec.dependency == f"afterany:{first.slurm_job_id}") is dependency
    assert second.name == "every-minute-2"
    assert cycle(backend) == {} and len(backend.scheduler.pending("every-minute")) == 1


def test_a_run_cancelled_from_the_shell_is_skipped_and_the_next_one_submitted(
        owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.CANCELLED)
    cycle(backend)
    [second] = upcoming(schedule)
    assert second.run_at == first.run_at + timedelta(minutes=1)
    assert "skipped" in kinds(schedule)
    assert backend.scheduler.specs[second.slurm_job_id].dependency is None


def test_a_run_gone_from_squeue_is_looked_up_in_sacct(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.COMPLETED, exit_code=0)
    snapshot = [j for j in backend.scheduler.snapshot() if j["id"] != first.slurm_job_id]
    assert schedrun.step(backend, snapshot) == {"submitted": 1}
    assert first.upcoming is False and len(upcoming(schedule)) == 1


def test_deleting_the_upcoming_run_skips_only_it(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    jobdelete.delete_job(owner, first.id)
    [second] = upcoming(schedule)
    assert backend.scheduler.jobs[first.slurm_job_id].state is JobState.CANCELLED
    assert second.run_at == first.run_at + timedelta(minutes=1)
    assert schedule.status == "active"


def test_deleting_the_schedule_removes_its_pending_run(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    schedules.delete_schedule(owner, schedule.id)
    assert backend.scheduler.jobs[first.slurm_job_id].state is JobState.CANCELLED
    assert upcoming(schedule) == [] and first.hidden
    assert schedules.list_schedules(owner) == []
    assert cycle(backend) == {} and backend.scheduler.pending() == []


def test_a_crash_between_sbatch_and_recording_is_adopted_not_doubled(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    first.slurm_job_id, first.state = None, "submitting"  # the answer was lost
    db.session.commit()
    backend.scheduler.calls.clear()
    assert cycle(backend) == {}
    assert backend.scheduler.count("sbatch") == 0
    assert upcoming(schedule)[0].slurm_job_id == "1000"
    assert len(backend.scheduler.pending()) == 1


def test_a_run_recorded_but_never_started_is_submitted_once(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    del backend.scheduler.jobs[first.slurm_job_id]
    first.slurm_job_id, first.state = None, "submitting"
    first.submit_started_at = None  # recorded, then a crash before any sbatch ran
    db.session.commit()
    cycle(backend)
    cycle(backend)
    assert len(backend.scheduler.pending()) == 1 and upcoming(schedule)[0].slurm_job_id


def test_a_run_whose_sbatch_got_no_answer_is_resubmitted_only_once_slurm_settled(
        owner, template, backend):
    """Issue #13: the earlier request may still sit in a frozen controller; submitting
    again before the controller has answered for SUBMIT_SETTLE_SECONDS made two jobs."""
    schedule = make(owner, template, cron="0 3 * * *")
    [first] = upcoming(schedule)
    del backend.scheduler.jobs[first.slurm_job_id]
    first.slurm_job_id, first.state, first.submit_ended_at = None, "submitting", db.utcnow()
    db.session.commit()
    backend.scheduler.calls.clear()
    cycle(backend)
    cycle(backend, db.utcnow() + timedelta(minutes=5))  # long ago, but no answer since
    assert backend.scheduler.count("sbatch") == 0
    controller_answered()
    cycle(backend, db.utcnow() + timedelta(seconds=30))
    assert backend.scheduler.count("sbatch") == 0  # awake, but not for long enough
    cycle(backend, db.utcnow() + timedelta(minutes=2))
    [run] = upcoming(schedule)
    assert run.id == first.id and run.slurm_job_id and len(backend.scheduler.pending()) == 1
    assert backend.scheduler.count("sbatch") == 1


def test_an_unknown_slurm_state_submits_nothing(owner, template, backend):
    schedule = make(owner, template)
    backend.scheduler.calls.clear()
    assert schedrun.step(backend, None) == {}
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.RUNNING)

    def broken(*a, **k):
        from adapters.errors import SlurmUnreachable
        raise SlurmUnreachable("Unable to contact slurm controller")

    backend.scheduler.history = broken
    snapshot = [j for j in backend.scheduler.snapshot() if j["id"] != first.slurm_job_id]
    assert schedrun.step(backend, snapshot) == {}
    assert backend.scheduler.count("sbatch") == 0  # unknown is not gone


def test_two_pending_runs_become_one(owner, template, backend):
    schedule = make(owner, template, mode="multi")
    [first] = upcoming(schedule)
    extra = Job(**{c: getattr(first, c) for c in (
        "user_id", "project_id", "template_id", "schedule_id", "name", "account", "directory",
        "gpu_model", "gpu_count", "cpus", "mem_gb", "shm_gb", "image_type", "image",
        "framework", "command")}, uuid="f" * 32, state="pending", upcoming=True,
        run_at=first.run_at + timedelta(minutes=5))
    extra.slurm_job_id = backend.scheduler.submit(backend.scheduler.specs["1000"], as_user="x")
    db.session.add(extra)
    db.session.commit()
    backend.scheduler.set_state(first.slurm_job_id, JobState.QUEUED_HELD)
    cycle(backend)
    assert [j.id for j in upcoming(schedule)] == [first.id]
    assert backend.scheduler.jobs[extra.slurm_job_id].state is JobState.CANCELLED


@pytest.mark.parametrize("policy", ["skip", "run_late"])
def test_runs_missed_while_the_portal_was_down(owner, template, backend, policy):
    schedule = make(owner, template, missed_policy=policy)
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.COMPLETED, exit_code=0)
    later = first.run_at + timedelta(hours=1, seconds=30)  # the worker was down for an hour
    cycle(backend, now=later)
    [second] = upcoming(schedule)
    events = db.session.query(ScheduleEvent).filter_by(schedule_id=schedule.id).all()
    if policy == "skip":
        assert second.run_at == first.run_at + timedelta(hours=1, minutes=1)
        missed = [e for e in events if e.kind == "missed"][0]
        assert missed.details["count"] == 60
    else:
        assert second.run_at == first.run_at + timedelta(hours=1)
        assert backend.scheduler.specs[second.slurm_job_id].begin.replace(tzinfo=None) == later
        assert [e for e in events if e.kind == "run_late"][0].details["count"] == 60


def test_a_schedule_ends_after_its_last_run(owner, template, backend):
    # A window of two whole minutes in the future: runs at its start and one minute later.
    start = db.utcnow().replace(second=0, microsecond=0) + timedelta(minutes=2)
    schedule = make(owner, template, timezone="UTC", mode="multi", start=start.isoformat(),
                    end=(start + timedelta(minutes=1)).isoformat())
    for _ in range(4):
        for run in upcoming(schedule):
            backend.scheduler.set_state(run.slurm_job_id, JobState.RUNNING)
        cycle(backend)
    assert db.session.get(Schedule, schedule.id).status == "ended"
    runs = db.session.query(Job).filter_by(schedule_id=schedule.id).order_by(Job.id).all()
    assert [r.run_at for r in runs] == [start, start + timedelta(minutes=1)]
    assert "ended" in kinds(schedule)


@pytest.mark.parametrize("offset,first", [(0, 0), (1, 60), (59, 60)])
def test_a_given_start_owns_the_cron_times_at_or_after_it(owner, template, backend, offset,
                                                          first):
    # README "When the first run is": a start on a cron time owns that run, to the second.
    tick = db.utcnow().replace(second=0, microsecond=0) + timedelta(minutes=5)
    start = tick + timedelta(seconds=offset)
    schedule = make(owner, template, timezone="UTC", start=start.isoformat())
    [run] = upcoming(schedule)
    assert run.run_at == tick + timedelta(seconds=first)


@pytest.mark.parametrize("created,owned", [(0.6, True), (1.0, False), (59.9, False)])
def test_a_schedule_without_a_start_starts_at_its_creation_second(
        owner, template, backend, monkeypatch, created, owned):
    # Created in a minute's first second (rounded down to 12:34:00), it owns the 12:34 run
    # and submits it to begin at once; a second later, the first run is the next minute.
    minute = db.utcnow().replace(second=0, microsecond=0) + timedelta(hours=1)
    clock = minute + timedelta(seconds=created)
    monkeypatch.setattr(db, "utcnow", lambda: clock)
    schedule = make(owner, template, timezone="UTC")
    [run] = upcoming(schedule)
    begin = backend.scheduler.specs[run.slurm_job_id].begin.replace(tzinfo=None)
    if owned:
        assert run.run_at == minute and begin == clock
    else:
        assert run.run_at == minute + timedelta(minutes=1) and begin == run.run_at


def test_a_leased_schedule_is_left_alone(owner, template, backend):
    schedule = make(owner, template)
    [first] = upcoming(schedule)
    backend.scheduler.set_state(first.slurm_job_id, JobState.RUNNING)
    assert schedrun.claim(schedule.id, "someone-else", db.utcnow())
    assert cycle(backend) == {}
    schedrun.release(schedule.id, "someone-else")
    assert cycle(backend) == {"submitted": 1}


@pytest.mark.parametrize("change,code", [
    ({"cron": "99 * * * *"}, "invalid_cron"),
    ({"timezone": "Moon/Base"}, "invalid_timezone"),
    ({"start": "2030-01-02T00:00", "end": "2030-01-01T00:00"}, "end_before_start"),
    ({"start": "yesterday"}, "invalid_time"),
    ({"name": "a b"}, "invalid_name"),
    ({"mode": "parallel"}, "invalid_mode"),
    ({"template_id": "x"}, "invalid_template"),
])
def test_bad_schedules_are_refused_and_nothing_is_submitted(owner, template, backend,
                                                            change, code):
    with pytest.raises(ServiceError) as err:
        make(owner, template, **change)
    assert err.value.code == code
    assert db.session.query(Schedule).count() == 0 and backend.scheduler.count("sbatch") == 0


def test_a_template_of_another_project_is_refused(member, owner, backend, job_data):
    other = member("olga", account="projb")
    theirs = jobtemplates.create_template(other, {**job_data, "name": "theirs"})
    with pytest.raises(ServiceError) as err:
        make(owner, theirs)
    assert err.value.code == "not_found"


def test_preview_lists_five_runs_in_the_timezone():
    body = schedules.preview({"cron": "0 20 * * *", "timezone": "Asia/Taipei"},
                             now=datetime(2025, 3, 1, 13, 0))
    assert body["description"] == "At 20:00"
    assert body["next_runs"][0] == "2025-03-02T20:00:00+08:00" and len(body["next_runs"]) == 5


def test_a_template_used_by_a_schedule_cannot_be_deleted(owner, template, backend):
    make(owner, template)
    with pytest.raises(ServiceError) as err:
        jobtemplates.delete_template(owner, template.id)
    assert err.value.code == "in_use"
