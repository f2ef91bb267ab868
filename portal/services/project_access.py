"""Who may see and change a project, and how a project change is audited (F2, F13).

A platform admin may do everything; a project's manager edits it; a member sees it; anyone
else gets NotFound, so a project's existence is not revealed. `OPERATOR` stands for an
admin at the shell (the `portal` CLI run as root). Projects, dates and expiry, settings,
QOS and the Slurm check all ask these, so they live apart from portal/services/projects.py.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import Membership, Project, ProjectRole
from portal.services import Forbidden, NotFound, audit

OPERATOR = SimpleNamespace(id=None, username="", is_admin=True, is_authenticated=True)


def audit_change(actor, action: str, target: str, **details) -> None:
    audit.record(action, target, actor=None if actor is OPERATOR else actor, commit=False,
                 **details)


def role_of(user, project: Project) -> ProjectRole | None:
    if user is None or user is OPERATOR:
        return None
    return db.session.scalar(
        select(Membership.role).where(
            Membership.user_id == user.id, Membership.project_id == project.id
        )
    )


def can_manage(user, project: Project) -> bool:
    return bool(user.is_admin) or role_of(user, project) == ProjectRole.MANAGER


def get_project(user, project_id: int, *, manage: bool = False) -> Project:
    """The project if `user` may see it (and manage it, with `manage`).

    Raises NotFound for non-members (no hint that it exists), Forbidden for a member
    who may not manage it.
    """
    project = db.session.get(Project, project_id)
    if project is None or not (user.is_admin or role_of(user, project) is not None):
        raise NotFound(_l("No such project."))
    if manage and not can_manage(user, project):
        raise Forbidden(_l("Only the project's managers may change it."), "not_manager")
    return project
