"""Archive a project, deactivate a user (issue #16 item 9): ended in Slurm, kept on record.

Archive (admins): the project's Slurm account, its `<account>_approved` child and its own
QOS are *disabled*, not removed — GrpJobs=0 and GrpSubmitJobs=0 on each, so Slurm refuses
new jobs and starts none — and every job in them is cancelled. Removing them would lose
nothing in `sacct` either, but disabling keeps the associations, so unarchiving is one
`modify` away and `portal accounts check` still knows the project. The portal keeps the
project, its members, orders, charges and accounting rows: cost reports still show it.
Unarchive lifts the blocks; a project past its end date stays blocked as "expired".

Deactivate (admins): the user's sessions and jobs in the portal's projects are cancelled,
their associations (and coordinator rights) in those accounts removed, their logins and
API tokens stop working. Memberships, sessions, jobs, orders and charges stay (history).
Reactivate re-adds the associations of every membership whose project is not archived.

Slurm changes go through `both_sides` (adapters/accounts.py serialises them per host): if
sacctmgr fails, the portal is unchanged and Slurm is rolled back. Cancelled jobs cannot be
un-cancelled; they are cancelled only once the Slurm change that stops new ones is made.
"""

from __future__ import annotations

import logging
import time

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.errors import AdapterError, JobNotFound
from portal import db
from portal.models import Membership, Project, ProjectRole, ProjectStatus, User
from portal.services import Forbidden, NotFound, ServiceError, audit
from portal.services import project_slurm as ps
from portal.services.core.states import AWAITING, WITHDRAWN

log = logging.getLogger(__name__)

JOBS_GONE_TIMEOUT = 30.0  # seconds: slurmdbd refuses to remove associations with live jobs


def _admin(actor) -> None:
    if not getattr(actor, "is_admin", False):
        raise Forbidden(_l("Only platform administrators archive projects or deactivate "
                           "users."))


def _who(actor):
    """The audit's actor: None for the CLI's OPERATOR (audit names the Unix user then)."""
    return actor if getattr(actor, "id", None) is not None else None


def _project(project_id) -> Project:
    project = db.session.get(Project, int(project_id)) if str(project_id).isdigit() else None
    if project is None:
        project = db.session.scalar(select(Project).where(Project.account == str(project_id)))
    if project is None:
        raise NotFound(_l("No such project."))
    return project


def _scheduler():
    from portal.services.jobs import get_backend

    return get_backend().scheduler


def _cancel(jobs, scheduler) -> list[str]:
    """operator scancel of each live job; returns the ids cancelled."""
    done = []
    for job in jobs:
        if job.state.is_terminal:
            continue
        try:
            scheduler.operator_cancel(job.id)
            done.append(job.id)
        except JobNotFound:
            pass
    return done


def _live(scheduler, **where) -> list:
    return [j for j in scheduler.info_all(**where) if not j.state.is_terminal]


def _wait_gone(scheduler, what: dict[str, str], deadline: float) -> None:
    """Until Slurm lists none of the jobs cancelled (slurmdbd counts them until then)."""
    while time.monotonic() < deadline:
        if not any(_live(scheduler, **{k: v}) for k, v in what.items()):
            return
        time.sleep(0.3)


# -- projects --------------------------------------------------------------------------


def _accounts_of(project: Project, accounts) -> list[str]:
    from portal.services.approvals import approved_account

    child = approved_account(project.account)
    return [project.account, *[a.name for a in accounts.accounts([child])]]


def archive_project(actor, project_id, *, reason: str = "") -> dict:
    """Disable the project in Slurm and cancel its jobs. Returns what was done."""
    _admin(actor)
    project = _project(project_id)
    if project.status == ProjectStatus.ARCHIVED:
        raise ServiceError(_l("Project %(name)s is already archived.", name=project.name),
                           "already_archived", 409)
    scheduler = _scheduler()
    with ps.both_sides() as changes:
        acc = changes.accounts
        names = _accounts_of(project, acc)
        was_blocked = project.is_blocked
        for name in names:
            if name == project.account and was_blocked:
                continue  # already GrpJobs=0 (expired / not started)
            changes.step(lambda n=name: acc.modify_account(n, ps.block_settings(True)),
                         lambda n=name: acc.modify_account(n, ps.block_settings(False)),
                         f"archive {name}")
        if project.qos_name:
            qos = project.qos_name
            changes.step(lambda: acc.modify_qos(qos, ps.block_settings(True)),
                         lambda: acc.modify_qos(qos, ps.block_settings(False)),
                         f"archive qos {qos}")
        project.status = ProjectStatus.ARCHIVED
        project.blocked_at = db.utcnow()
        project.blocked_reason = str(_l(
            "Archived by %(who)s: Slurm refuses its jobs; its records and costs are kept.",
            who=getattr(actor, "username", "") or "an administrator"))
    cancelled = []
    try:
        for name in names:
            cancelled += _cancel(scheduler.info_all(account=name), scheduler)
    except AdapterError as exc:
        log.error("archive %s: cancelling jobs failed: %s", project.account, exc.message)
    audit.record("project.archive", project.account, actor=_who(actor), reason=reason[:500],
                 accounts=names, qos=project.qos_name, cancelled=cancelled)
    return {"project": project.account, "accounts": names, "qos": project.qos_name,
            "cancelled": cancelled}


def unarchive_project(actor, project_id) -> Project:
    """Lift the archive's blocks; the project's dates then decide (maybe "expired")."""
    from portal.services.project_expiry import date_status

    _admin(actor)
    project = _project(project_id)
    if project.status != ProjectStatus.ARCHIVED:
        raise ServiceError(_l("Project %(name)s is not archived.", name=project.name),
                           "not_archived", 409)
    wanted = date_status(project)
    with ps.both_sides() as changes:
        acc = changes.accounts
        for name in _accounts_of(project, acc):
            if name == project.account and wanted != ProjectStatus.ACTIVE:
                continue  # stays blocked by its dates
            changes.step(lambda n=name: acc.modify_account(n, ps.block_settings(False)),
                         lambda n=name: acc.modify_account(n, ps.block_settings(True)),
                         f"unarchive {name}")
        if project.qos_name:
            qos = project.qos_name
            changes.step(lambda: acc.modify_qos(qos, ps.block_settings(False)),
                         lambda: acc.modify_qos(qos, ps.block_settings(True)),
                         f"unarchive qos {qos}")
        project.status = wanted
        if wanted == ProjectStatus.ACTIVE:
            project.blocked_at, project.blocked_reason = None, ""
        else:
            from portal.services.project_expiry import _reason

            project.blocked_reason = _reason(project, wanted)
    audit.record("project.unarchive", project.account, actor=_who(actor), status=wanted.value)
    return project


# -- users -----------------------------------------------------------------------------


def _user(username) -> User:
    user = db.session.scalar(select(User).where(User.username == str(username)))
    if user is None and str(username).isdigit():
        user = db.session.get(User, int(username))
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def _memberships(user: User) -> list[Membership]:
    return list(db.session.scalars(select(Membership).where(Membership.user_id == user.id)))


def deactivate_user(actor, username, *, reason: str = "") -> dict:
    """End the user's sessions and jobs, remove their associations, refuse their logins."""
    from portal.services.approvals import approved_account

    _admin(actor)
    user = _user(username)
    if user.id == getattr(actor, "id", None):
        raise ServiceError(_l("You cannot deactivate yourself."), "self", 409)
    if not user.is_enabled:
        raise ServiceError(_l("User %(name)s is already deactivated.", name=user.username),
                           "already_deactivated", 409)
    memberships = _memberships(user)
    accounts = [m.project.account for m in memberships]
    cancelled = []
    if user.unix_user and accounts:
        scheduler = _scheduler()
        watched = {*accounts, *(approved_account(a) for a in accounts)}
        try:
            mine = [j for j in _live(scheduler, user=user.unix_user) if j.account in watched]
            cancelled = _cancel(mine, scheduler)
            deadline = time.monotonic() + JOBS_GONE_TIMEOUT
            while cancelled and time.monotonic() < deadline and any(
                    j.account in watched for j in _live(scheduler, user=user.unix_user)):
                time.sleep(0.3)
        except AdapterError as exc:
            raise ps.slurm_error(exc) from exc
    with ps.both_sides() as changes:
        acc = changes.accounts
        for m in memberships:
            if not user.unix_user:
                break
            unix, account = user.unix_user, m.project.account
            if m.role == ProjectRole.MANAGER:
                changes.step(lambda u=unix, a=account: acc.remove_coordinator(u, a),
                             lambda u=unix, a=account: acc.add_coordinator(u, a),
                             f"remove coordinator {unix}@{account}")
            changes.step(lambda u=unix, a=account: _remove_user(acc, u, a),
                         lambda u=unix, a=account: acc.add_user(u, a),
                         f"remove user {unix}@{account}")
        user.is_enabled = False
        user.session_version = (user.session_version or 0) + 1  # signs out every login
        from portal.models import Session

        for asked in db.session.scalars(select(Session).where(  # never submitted: withdrawn
                Session.user_id == user.id, Session.state == AWAITING)):
            asked.state, asked.hidden, asked.ended_at = WITHDRAWN, True, db.utcnow()
    audit.record("user.deactivate", user.username, actor=_who(actor), reason=reason[:500],
                 accounts=accounts, cancelled=cancelled)
    return {"user": user.username, "accounts": accounts, "cancelled": cancelled}


def _remove_user(acc, unix: str, account: str) -> bool:
    """remove_user, retried a moment while slurmdbd still counts just-cancelled jobs."""
    from adapters.errors import SlurmRejected

    deadline = time.monotonic() + JOBS_GONE_TIMEOUT
    while True:
        try:
            return acc.remove_user(unix, account)
        except SlurmRejected:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def reactivate_user(actor, username) -> User:
    """Logins work again; associations come back in every project not archived."""
    _admin(actor)
    user = _user(username)
    if user.is_enabled:
        raise ServiceError(_l("User %(name)s is active.", name=user.username), "active", 409)
    restored = []
    with ps.both_sides() as changes:
        acc = changes.accounts
        for m in _memberships(user):
            if not user.unix_user or m.project.status == ProjectStatus.ARCHIVED:
                continue
            unix, account = user.unix_user, m.project.account
            changes.step(lambda u=unix, a=account: acc.add_user(u, a),
                         lambda u=unix, a=account: acc.remove_user(u, a),
                         f"add user {unix}@{account}")
            if m.role == ProjectRole.MANAGER:
                changes.step(lambda u=unix, a=account: acc.add_coordinator(u, a),
                             lambda u=unix, a=account: acc.remove_coordinator(u, a),
                             f"add coordinator {unix}@{account}")
            restored.append(account)
        user.is_enabled = True
    audit.record("user.reactivate", user.username, actor=_who(actor), accounts=restored)
    return user
