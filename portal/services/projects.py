"""Projects (F2, F13): who may see and change what, and every change on both sides.

Roles: a platform admin may do everything; a project manager edits the name, the
description and the membership of their own projects (never quota or dates); a member
sees the project. Anyone else gets NotFound — the project's existence is not revealed.
Every change that Slurm must know goes through `project_slurm.both_sides()`: Slurm and
the portal database both change, or neither does.

`OPERATOR` stands for an admin at the shell (the `portal` CLI run as root).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import db
from portal.models import Membership, Project, ProjectRole, ProjectStatus, User
from portal.services import Forbidden, NotFound, ServiceError
from portal.services import project_rules as rules
from portal.services import project_slurm as ps
from portal.services.project_access import (  # noqa: F401 - projects.* for callers
    OPERATOR,
    can_manage,
    get_project,
    role_of,
)
from portal.services.project_access import audit_change as _audit


def get_by_account(user, account: str, *, manage: bool = False) -> Project:
    project = db.session.scalar(select(Project).where(Project.account == account))
    if project is None:
        raise NotFound(_l("No such project."))
    return get_project(user, project.id, manage=manage)


def visible_projects(user) -> list[Project]:
    """Admins: every project; others: their own."""
    stmt = select(Project).order_by(Project.name)
    if not user.is_admin:
        stmt = stmt.join(Membership).where(Membership.user_id == user.id)
    return list(db.session.scalars(stmt))


def managers(project: Project) -> list[Membership]:
    return [m for m in project.memberships if m.role == ProjectRole.MANAGER]


def _unix_user(user: User) -> str:
    if not user.unix_user:
        raise ServiceError(
            _l("%(name)s has no Unix account, so Slurm cannot run work for them.",
               name=user.username),
            "no_unix_user",
        )
    return user.unix_user


def _find_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == str(username or "").strip()))
    if user is None:  # bad input, not a missing page: the form says so
        raise ServiceError(_l("No user %(name)s.", name=username), "unknown_user")
    return user


def _check_title_free(name: str, project_id: int | None = None) -> None:
    stmt = select(Project.id).where(func.lower(Project.name) == name.lower())
    if project_id is not None:
        stmt = stmt.where(Project.id != project_id)
    if db.session.scalar(stmt) is not None:
        raise ServiceError(_l("A project called %(name)s already exists.", name=name),
                           "duplicate")


def _check_account_free(accounts, account: str) -> None:
    if db.session.scalar(select(Project.id).where(Project.account == account)):
        raise ServiceError(_l("Project %(name)s already exists.", name=account), "duplicate")
    if accounts.accounts([account]):
        raise ServiceError(
            _l("Slurm already has an account %(name)s that the portal does not manage. "
               "Choose another name, or import it with `portal accounts check --fix --from slurm`.",
               name=account),
            "duplicate",
        )


def create_project(actor, *, account: str, name: str, description: str = "",
                   settings: dict | None = None, managers: list[str] = (),
                   members: list[str] = ()) -> Project:
    """Admin: a new project = a project QOS, an account and its users and coordinators.

    Raises Forbidden (not an admin), ServiceError for bad input or duplicates, and the
    Slurm errors of `both_sides` (then nothing exists on either side).
    """
    if not actor.is_admin:
        raise Forbidden(_l("Only platform administrators create projects."))
    account = rules.validate_account(account)
    name = rules.validate_title(name)
    _check_title_free(name)
    values = rules.clean_settings(settings or {}, {})
    people = [(u, ProjectRole.MANAGER) for u in managers] + [
        (u, ProjectRole.MEMBER) for u in members if u not in managers]
    users = [(_find_user(u), role) for u, role in people if u.strip()]
    for user, _role in users:
        _unix_user(user)
    project = Project(account=account, name=name,
                      description=rules.validate_description(description),
                      qos_name=ps.project_qos_name(account), extra_qos=[], **values)
    with ps.both_sides() as changes:
        _check_account_free(changes.accounts, account)
        _create_in_slurm(changes, project)
        project.status = ProjectStatus.ACTIVE
        from portal.services.project_expiry import sync_block  # imports this module

        sync_block(changes, project)  # blocked from the start when outside its dates
        if project.approval_threshold is not None:
            from portal.services.approvals import apply_cap

            apply_cap(changes, project, None)
        db.session.add(project)  # written at the commit, after sacctmgr (issue #13)
        for user, role in users:
            _add_member_steps(changes, project, user, role)
        _audit(actor, "project.create", account, name=name,
               limits={k: v for k, v in values.items() if k in rules.LIMITS})
    return project


def _create_in_slurm(changes, project: Project) -> None:
    acc = changes.accounts
    qos = project.qos_name
    changes.step(lambda: acc.add_qos(qos, ps.qos_settings(project)),
                 lambda: acc.remove_qos(qos), f"add qos {qos}")
    acct_settings = {"Description": project.name, "Organization": ps.ORGANIZATION,
                     "QOS": ps.qos_list(project), "DefaultQOS": qos}
    changes.step(lambda: acc.add_account(project.account, acct_settings),
                 lambda: acc.remove_account(project.account), f"add account {project.account}")


def _add_member_steps(changes, project: Project, user: User, role: ProjectRole) -> Membership:
    acc, unix, account = changes.accounts, _unix_user(user), project.account
    changes.step(lambda: acc.add_user(unix, account),
                 lambda: acc.remove_user(unix, account), f"add user {unix}")
    if role == ProjectRole.MANAGER:
        changes.step(lambda: acc.add_coordinator(unix, account),
                     lambda: acc.remove_coordinator(unix, account), f"add coordinator {unix}")
    membership = Membership(user_id=user.id, project=project, role=role)  # id: at commit
    db.session.add(membership)
    return membership


def update_details(actor, project_id: int, *, name: str | None = None,
                   description: str | None = None) -> Project:
    """Manager or admin: the project's title and description (the title is also the
    Slurm account's Description). Raises NotFound, Forbidden, ServiceError."""
    project = get_project(actor, project_id, manage=True)
    changed = {}
    with ps.both_sides() as changes:
        if name is not None and rules.validate_title(name) != project.name:
            new, old, acc = rules.validate_title(name), project.name, changes.accounts
            _check_title_free(new, project.id)
            changes.step(lambda: acc.modify_account(project.account, {"Description": new}),
                         lambda: acc.modify_account(project.account, {"Description": old}))
            project.name, changed["name"] = new, new
        if description is not None:
            text = rules.validate_description(description)
            if text != project.description:
                project.description, changed["description"] = text, True
        if changed:
            _audit(actor, "project.update", project.account, **changed)
    return project


def add_member(actor, project_id: int, username: str,
               role: ProjectRole = ProjectRole.MEMBER) -> Membership:
    """Manager or admin: make a portal user a member (a Slurm association; a manager is
    also a coordinator). Raises NotFound, Forbidden, ServiceError ("already_member")."""
    project = get_project(actor, project_id, manage=True)
    user = _find_user(username)
    if role_of(user, project) is not None:
        raise ServiceError(_l("%(name)s is already a member.", name=user.username),
                           "already_member")
    with ps.both_sides() as changes:
        membership = _add_member_steps(changes, project, user, ProjectRole(role))
        _audit(actor, "project.member_add", project.account, user=user.username,
               role=ProjectRole(role).value)
    return membership


def _membership(project: Project, user_id: int) -> Membership:
    for membership in project.memberships:
        if membership.user_id == user_id:
            return membership
    raise NotFound(_l("That user is not a member of this project."), "not_member")


def _refuse_last_manager(project: Project, membership: Membership) -> None:
    if membership.role == ProjectRole.MANAGER and len(managers(project)) <= 1:
        raise ServiceError(
            _l("%(name)s is the project's only manager. Make someone else a manager first.",
               name=membership.user.username),
            "last_manager",
        )


def remove_member(actor, project_id: int, user_id: int) -> None:
    """Manager or admin: end a membership (association and coordinator removed).

    Refused for the last manager, and while the member has running or pending jobs in
    the project: Slurm will not remove an association with active jobs, so the portal
    says so instead of cancelling anyone's work. Raises NotFound, Forbidden, ServiceError.
    """
    from portal.services.project_usage import active_jobs

    project = get_project(actor, project_id, manage=True)
    membership = _membership(project, user_id)
    _refuse_last_manager(project, membership)
    user = membership.user
    busy = active_jobs(project.account, user.unix_user) if user.unix_user else []
    if busy:
        raise ServiceError(
            _l("%(name)s has %(count)d running or pending jobs in this project (%(ids)s). "
               "Slurm keeps a member while their jobs are active: wait until they end or "
               "cancel them, then remove %(name)s.", name=user.username, count=len(busy),
               ids=", ".join(j["id"] for j in busy[:5])),
            "active_jobs", 409,
        )
    with ps.both_sides() as changes:
        acc, account = changes.accounts, project.account
        if user.unix_user:
            unix = user.unix_user
            if membership.role == ProjectRole.MANAGER:
                changes.step(lambda: acc.remove_coordinator(unix, account),
                             lambda: acc.add_coordinator(unix, account))
            changes.step(lambda: acc.remove_user(unix, account),
                         lambda: acc.add_user(unix, account))
        if user.current_project_id == project.id:
            user.current_project_id = None
        db.session.delete(membership)
        _audit(actor, "project.member_remove", project.account, user=user.username)


def set_role(actor, project_id: int, user_id: int, role: ProjectRole | str) -> Membership:
    """Manager or admin: promote to manager (coordinator) or demote to member.

    Raises NotFound, Forbidden, ServiceError ("invalid_role", "last_manager").
    """
    try:
        role = ProjectRole(role)
    except ValueError:
        raise ServiceError(_l("A role is 'member' or 'manager'."), "invalid_role") from None
    project = get_project(actor, project_id, manage=True)
    membership = _membership(project, user_id)
    if membership.role == role:
        return membership
    if role == ProjectRole.MEMBER:
        _refuse_last_manager(project, membership)
    unix = _unix_user(membership.user)
    with ps.both_sides() as changes:
        acc, account = changes.accounts, project.account
        add = lambda: acc.add_coordinator(unix, account)  # noqa: E731
        drop = lambda: acc.remove_coordinator(unix, account)  # noqa: E731
        changes.step(*((add, drop) if role == ProjectRole.MANAGER else (drop, add)))
        membership.role = role
        _audit(actor, "project.role", project.account, user=membership.user.username,
               role=role.value)
    return membership
