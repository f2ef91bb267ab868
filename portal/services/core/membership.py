"""Who may act in a project: the member's current project for a new job, session,
template or schedule; whether a user manages a project; who may open a session; and the
archived-project refusal every start checks (issue #16)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import Membership, Project, ProjectRole, ProjectStatus, Session
from portal.services import Forbidden, ServiceError
from portal.services.users import current_membership, user_projects


def require_membership(user, project_id: int | None = None) -> Membership:
    """The user's current project (or `project_id` if they are a member of it).

    Raises ServiceError("no_project") / Forbidden("other_project").
    """
    if project_id is not None:
        for membership in user_projects(user):
            if membership.project_id == project_id:
                return membership
        raise Forbidden(_l("You are not a member of that project."), "other_project")
    membership = current_membership(user)
    if membership is None:
        raise ServiceError(
            _l("You are not a member of any project: ask a project manager to add you."),
            "no_project",
        )
    if not user.unix_user:
        raise ServiceError(_l("Your portal account has no Unix account."), "no_unix_account")
    return membership


def is_manager(user, project_id: int) -> bool:
    stmt = select(Membership.role).where(
        Membership.user_id == user.id, Membership.project_id == project_id)
    return db.session.scalar(stmt) == ProjectRole.MANAGER


def may_open(user, session: Session, membership: Membership | None) -> bool:
    """Whether `user` may open (detail, connect) and delete `session`: the owner, or a
    manager of its project — the same rule as get_session(manage=True)."""
    if session.user_id == user.id:
        return True
    return (membership is not None and membership.project_id == session.project_id
            and membership.role == ProjectRole.MANAGER)


def refuse_archived(project: Project | None) -> None:
    """New sessions and jobs in an archived project are refused in words before Slurm."""
    if project is not None and project.status == ProjectStatus.ARCHIVED:
        raise ServiceError(_l("Project %(name)s is archived: nothing new can run in it.",
                              name=project.name), "project_archived", 409)
