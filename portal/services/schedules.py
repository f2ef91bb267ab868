"""Schedules (F8): create, preview, list, show, retarget and delete.

The portal owns the schedule (cron, IANA timezone, start/end window, single- or
multi-line mode, what to do with runs missed while it was down); each upcoming run is a
real pending Slurm job submitted with --begin (decision 8). Keeping exactly one upcoming
run per active schedule is `portal.services.schedrun`'s job, for the worker and for the
pages (creating a schedule submits its first run at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import Job, JobTemplate, Schedule
from portal.services import NotFound, ServiceError, audit, schedrun
from portal.services import crontime as ct
from portal.services.core.membership import require_membership
from portal.services.jobspec import validate_name
from portal.services.jobtemplates import get_template
from portal.services.schedrun import history  # the engine writes it too

MODES = ("single", "multi")
MISSED_POLICIES = ("skip", "run_late")
MAX_DESCRIPTION = 2000
PREVIEW_COUNT = 5


def parse_local_time(value: object, tz, what) -> datetime | None:
    """A local date-time ("2025-01-31T20:00", seconds optional) as naive UTC; None if empty.

    Raises ServiceError("invalid_time").
    """
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T"))
        if not 1970 <= parsed.year <= 9000:
            raise ValueError(text)
        return ct.to_utc(parsed, tz)
    except (ValueError, OverflowError):
        raise ServiceError(
            _l("%(what)s is not a date and time like 2025-01-31T20:00.", what=what),
            "invalid_time",
        ) from None


def preview(data: Mapping, now: datetime | None = None, locale: str = "en") -> dict:
    """The trigger in words and its next five run times, before anything is saved.

    Raises ServiceError for a bad cron, timezone, start or end.
    """
    cron = ct.normalize_cron(data.get("cron"))
    tz = ct.zone(data.get("timezone") or "UTC")
    now = now or db.utcnow()
    start = parse_local_time(data.get("start"), tz, _l("Start")) or now
    end = parse_local_time(data.get("end"), tz, _l("End"))
    if end is not None and end <= start:
        raise ServiceError(_l("The end must be after the start."), "end_before_start")
    after = max(start, now) - timedelta(seconds=1)
    runs = ct.next_runs(cron, tz, after, PREVIEW_COUNT, until=end)
    return {
        "cron": cron,
        "timezone": tz.key,
        "description": ct.describe(cron, locale),
        "next_runs": [ct.to_local(t, tz).isoformat() for t in runs],
        "next_runs_utc": [t.isoformat() + "Z" for t in runs],
    }


def _choice(data: Mapping, key: str, choices: tuple, default: str, code: str) -> str:
    value = str(data.get(key) or default)
    if value not in choices:
        raise ServiceError(_l("Unknown value for %(field)s.", field=key), code)
    return value


def validate(user, data: Mapping, now: datetime | None = None) -> dict:
    """Every field of a schedule, checked. Raises ServiceError with a stable code."""
    membership = require_membership(user)
    name = validate_name(data.get("name"), "schedule")
    description = str(data.get("description") or "").replace("\r\n", "\n")
    if len(description) > MAX_DESCRIPTION or "\x00" in description:
        raise ServiceError(_l("The description is too long."), "invalid_description")
    cron = ct.normalize_cron(data.get("cron"))
    tz = ct.zone(data.get("timezone") or "UTC")
    now = now or db.utcnow()
    start = parse_local_time(data.get("start"), tz, _l("Start")) or now.replace(microsecond=0)
    end = parse_local_time(data.get("end"), tz, _l("End"))
    if end is not None and end <= start:
        raise ServiceError(_l("The end must be after the start."), "end_before_start")
    if end is not None and end <= now:
        raise ServiceError(_l("The end is already in the past."), "end_in_past")
    template = _template_of(user, data, membership)
    return {
        "user_id": user.id, "project_id": membership.project_id, "template_id": template.id,
        "name": name, "description": description, "cron": cron, "timezone": tz.key,
        "start_at": start, "end_at": end,
        "mode": _choice(data, "mode", MODES, "single", "invalid_mode"),
        "missed_policy": _choice(data, "missed_policy", MISSED_POLICIES, "skip",
                                 "invalid_missed_policy"),
    }


def _template_of(user, data: Mapping, membership) -> JobTemplate:
    raw = data.get("template_id")
    try:
        template_id = int(raw)
    except (TypeError, ValueError):
        raise ServiceError(_l("Choose a job template for the schedule."),
                           "invalid_template") from None
    return get_template(user, template_id, membership=membership)


def create_schedule(user, data: Mapping, backend=None) -> Schedule:
    """Save the schedule and submit its first run at once (it shows in the job list).

    Raises ServiceError for bad input or a duplicate name; a Slurm refusal of the first
    run is recorded in the schedule's history (the worker keeps trying).
    """
    from portal.services.activation import require_activated

    require_activated(user)
    fields = validate(user, data)
    duplicate = db.session.scalar(
        select(Schedule.id).where(
            Schedule.project_id == fields["project_id"], Schedule.user_id == user.id,
            Schedule.name == fields["name"], Schedule.status != "deleted",
        )
    )
    if duplicate:
        raise ServiceError(_l("You already have a schedule called %(name)s.",
                              name=fields["name"]), "duplicate")
    schedule = Schedule(**fields, status="active")
    db.session.add(schedule)
    db.session.flush()
    history(schedule, "created", cron=schedule.cron, timezone=schedule.timezone)
    db.session.commit()
    audit.record("schedule.create", f"schedule:{schedule.id}", actor=user, name=schedule.name,
                 cron=schedule.cron, timezone=schedule.timezone)
    schedrun.reconcile(schedule.id, backend)
    return schedule


def list_schedules(user) -> list[Schedule]:
    """The user's schedules in the current project (deleted ones are gone from the list)."""
    membership = require_membership(user)
    stmt = select(Schedule).where(
        Schedule.project_id == membership.project_id, Schedule.user_id == user.id,
        Schedule.status != "deleted",
    )
    return list(db.session.scalars(stmt.order_by(Schedule.id.desc())))


def get_schedule(user, schedule_id: int) -> Schedule:
    """The user's own schedule. Raises NotFound."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or schedule.user_id != user.id or schedule.status == "deleted":
        raise NotFound(_l("No such schedule."))
    return schedule


def upcoming_run(schedule: Schedule) -> Job | None:
    return db.session.scalar(
        select(Job).where(Job.schedule_id == schedule.id, Job.upcoming.is_(True)).limit(1)
    )


def recent_runs(schedule: Schedule, limit: int = 20) -> list[Job]:
    stmt = select(Job).where(Job.schedule_id == schedule.id).order_by(Job.id.desc())
    return list(db.session.scalars(stmt.limit(limit)))


def set_template(user, schedule_id: int, template_id: int) -> Schedule:
    """Run a different template from the next run on ("run as schedule" on a template)."""
    schedule = get_schedule(user, schedule_id)
    template = get_template(user, template_id)
    if template.project_id != schedule.project_id:
        raise ServiceError(_l("That template belongs to another project."), "other_project")
    schedule.template_id = template.id
    history(schedule, "template_changed", template=template.name)
    db.session.commit()
    audit.record("schedule.update", f"schedule:{schedule.id}", actor=user, template=template.name)
    return schedule


def delete_schedule(user, schedule_id: int, backend=None) -> None:
    """Stop the schedule and cancel its pending run. Raises NotFound."""
    schedule = get_schedule(user, schedule_id)
    schedule.status = "deleted"
    schedule.deleted_at = db.utcnow()
    history(schedule, "deleted")
    db.session.commit()
    audit.record("schedule.delete", f"schedule:{schedule.id}", actor=user, name=schedule.name)
    schedrun.reconcile(schedule.id, backend, wait=3.0)
