"""Project dates (start and end), expiry and extension requests (F2).

Policy: a project runs from its start date through its end date (both inclusive, in the
portal host's local date). Before its start date it is NOT_STARTED and blocked in Slurm
the same way as an expired one (below), from its creation on; the worker opens it on its
start date, and its page says why and when. The day after its end date, the worker blocks it in
Slurm — GrpJobs=0 and GrpSubmitJobs=0 on the account association — so new submissions
are refused (AssocGrpSubmitJobsLimit) and pending jobs do not start; running jobs and
sessions finish normally. The project page says why. A member may ask for N more days;
when an admin approves, the end date moves to max(end date, today) + N — counted from the
end date, or from today once it has passed; both the request and the approver's list show
that date before anyone decides — and, if the project was blocked, Slurm lets it run
again at once.
"""

from __future__ import annotations

import logging
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import ExtensionRequest, ExtensionStatus, Project, ProjectStatus
from portal.services import Forbidden, NotFound, ServiceError
from portal.services import project_rules as rules
from portal.services import project_slurm as ps
from portal.services.project_access import audit_change as _audit
from portal.services.project_access import get_project

log = logging.getLogger(__name__)


def today() -> date:
    return date.today()


def date_status(project: Project, on: date | None = None) -> ProjectStatus:
    """What the project's dates say it is on `on` (default today).

    Before its start date: NOT_STARTED; after its end date: EXPIRED; else ACTIVE. Both
    dates are inclusive (a project runs on its start and on its end date).
    """
    on = on or today()
    if project.start_date is not None and on < project.start_date:
        return ProjectStatus.NOT_STARTED
    if project.end_date is not None and project.end_date < on:
        return ProjectStatus.EXPIRED
    return ProjectStatus.ACTIVE


def should_block(project: Project, on: date | None = None) -> bool:
    return date_status(project, on) != ProjectStatus.ACTIVE


def _reason(project: Project, status: ProjectStatus) -> str:
    if status == ProjectStatus.NOT_STARTED:
        return str(_l(
            "The project starts on %(date)s. Until then Slurm refuses its jobs; it opens "
            "automatically on that day.", date=project.start_date.isoformat()))
    return str(_l(
        "The project ended on %(date)s. New jobs are refused and pending jobs do not "
        "start; running jobs finish. Ask for an extension to continue.",
        date=project.end_date.isoformat()))


def sync_block(changes, project: Project, on: date | None = None) -> str | None:
    """Block or unblock `project` in Slurm (as a step of `changes`) to match its dates.

    Blocked = GrpJobs=0 and GrpSubmitJobs=0 on the account association, both before the
    start date and after the end date. Returns "expired", "not_started", "opened",
    "restored" or None (nothing to do); updates the row, unsaved.
    """
    wanted = date_status(project, on)
    if wanted == project.status or project.status == ProjectStatus.ARCHIVED:
        return None  # archived: blocked until an admin unarchives it (lifecycle.py)
    blocked, was_blocked = wanted != ProjectStatus.ACTIVE, project.is_blocked
    if blocked != was_blocked:
        acc, account = changes.accounts, project.account
        changes.step(lambda: acc.modify_account(account, ps.block_settings(blocked)),
                     lambda: acc.modify_account(account, ps.block_settings(not blocked)),
                     f"block {account}={blocked}")
    old, project.status = project.status, wanted
    if blocked:
        project.blocked_at = project.blocked_at if was_blocked else db.utcnow()
        project.blocked_reason = _reason(project, wanted)
        return wanted.value
    project.blocked_at, project.blocked_reason = None, ""
    return "opened" if old == ProjectStatus.NOT_STARTED else "restored"


def enforce_expiry(on: date | None = None) -> dict:
    """The worker's step: block projects past their end date or before their start date,
    open them on their start date, unblock extended ones.

    Each project is its own change (one slurmdbd failure stops nothing else); failures
    are logged and retried next cycle. Returns counts and errors for the cycle summary.
    """
    summary: dict = {"projects_expired": 0, "projects_restored": 0, "projects_not_started": 0,
                     "projects_opened": 0, "expiry_errors": []}
    for project in db.session.scalars(select(Project).order_by(Project.id)):
        if project.status == ProjectStatus.ARCHIVED or date_status(project, on) == project.status:
            continue  # an archived project stays blocked until an admin unarchives it
        try:
            with ps.both_sides() as changes:
                outcome = sync_block(changes, project, on)
                if outcome:
                    _audit(None, f"project.{_AUDIT[outcome]}", project.account,
                           start_date=str(project.start_date), end_date=str(project.end_date))
        except ServiceError as exc:
            log.warning("expiry of %s: %s", project.account, exc.message)
            summary["expiry_errors"].append(f"{project.account}: {exc.message}")
            continue
        if outcome:
            summary[f"projects_{outcome}"] += 1
    return summary


_AUDIT = {"expired": "expire", "restored": "restore", "not_started": "not_started",
          "opened": "open"}


def request_extension(actor, project_id: int, days: object, reason: str = "") -> ExtensionRequest:
    """A member asks for `days` more days. One open request per project at a time.

    Raises NotFound (not a member), ServiceError (bad days, no end date, one pending).
    """
    project = get_project(actor, project_id)
    days = rules.parse_days(days)
    if project.end_date is None:
        raise ServiceError(_l("This project has no end date to extend."), "no_end_date")
    pending = select(ExtensionRequest.id).where(
        ExtensionRequest.project_id == project.id,
        ExtensionRequest.status == ExtensionStatus.PENDING)
    if db.session.scalar(pending) is not None:
        raise ServiceError(
            _l("An extension request for this project is already waiting for an admin."),
            "pending_request",
        )
    request = ExtensionRequest(project_id=project.id, requested_by_id=actor.id, days=days,
                               reason=rules.validate_description(reason))
    project.extension_requests.append(request)
    _audit(actor, "project.extension_request", project.account, days=days)
    db.session.commit()
    return request


def pending_requests() -> list[ExtensionRequest]:
    stmt = (select(ExtensionRequest)
            .where(ExtensionRequest.status == ExtensionStatus.PENDING)
            .order_by(ExtensionRequest.id))
    return list(db.session.scalars(stmt))


def get_request(actor, request_id: int) -> ExtensionRequest:
    """A request its project's members may see. Raises NotFound."""
    request = db.session.get(ExtensionRequest, request_id)
    if request is None:
        raise NotFound(_l("No such extension request."))
    get_project(actor, request.project_id)
    return request


def resulting_end_date(project: Project, days: int, on: date | None = None) -> date | None:
    """The end date approving `days` more gives on `on` (default today): counted from the
    current end date, or from `on` when that date has already passed. None: no end date."""
    if project.end_date is None:
        return None
    base = max(project.end_date, on or today())
    return date.fromordinal(base.toordinal() + int(days))


def _expected(value: object) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ServiceError(_l("The expected end date is not a date (YYYY-MM-DD)."),
                           "invalid_date") from None


def decide(actor, request_id: int, approve: bool, message: str = "",
           expected_end_date: object = None) -> ExtensionRequest:
    """Admin: approve (move the end date, unblock in Slurm) or reject with a message.

    `expected_end_date` is the new end date the approver was shown: when the date an
    approval gives now differs (the end date was changed, or the day turned since), the
    approval is refused with the new date ("end_date_changed") and nothing changes.
    Raises Forbidden, NotFound, ServiceError ("decided", "message_required") and the
    Slurm errors of `both_sides` (then the request stays pending and nothing changed).
    """
    if not actor.is_admin:
        raise Forbidden(_l("Only platform administrators decide extension requests."))
    request = get_request(actor, request_id)
    if request.status != ExtensionStatus.PENDING:
        raise ServiceError(_l("This request has already been decided."), "decided")
    message = rules.validate_description(message)
    if not approve and not message:
        raise ServiceError(_l("Say why the request is rejected."), "message_required")
    project = request.project
    expected = _expected(expected_end_date) if approve else None
    if expected is not None and expected != resulting_end_date(project, request.days):
        raise ServiceError(
            _l("Approving now would make the project end on %(date)s, not on %(shown)s as "
               "shown: check the new date and approve again.",
               date=str(resulting_end_date(project, request.days)), shown=str(expected)),
            "end_date_changed")
    with ps.both_sides() as changes:
        request.decided_by_id = getattr(actor, "id", None)
        request.decided_at, request.decision_message = db.utcnow(), message
        request.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
        if approve:
            request.old_end_date = project.end_date
            project.end_date = request.new_end_date = (
                resulting_end_date(project, request.days)
                or date.fromordinal(today().toordinal() + request.days))
            sync_block(changes, project)
        _audit(actor, f"project.extension_{request.status.value}", project.account,
               days=request.days, end_date=str(project.end_date), message=message)
    return request
