"""The fixes behind `portal accounts check --fix` (see accounts_sync for the rules).

Each function handles one Difference and returns None when fixed, or a sentence saying
why it was left alone. Slurm-side fixes are single idempotent sacctmgr calls; portal-side
fixes change rows that the caller commits.
"""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import Membership, Project, ProjectRole, ProjectStatus, User
from portal.services import project_slurm as ps


def portal_user(unix_user: str) -> User | None:
    return db.session.scalar(select(User).where(User.unix_user == unix_user).limit(1))


def membership(project: Project, unix_user: str) -> Membership | None:
    return next((m for m in project.memberships if m.user.unix_user == unix_user), None)


def to_slurm(acc, state, project: Project | None, diff) -> str | None:
    """Make Slurm match the portal for `diff`. Raises AdapterError."""
    account, kind = diff.account, diff.kind
    if kind == "unmanaged_account":
        return "left alone: the portal never removes accounts it does not manage"
    if kind == "missing_account":
        return _recreate(acc, project)
    if kind == "missing_member":
        acc.add_user(diff.portal, account)
    elif kind == "extra_member":
        acc.remove_user(diff.slurm, account)
    elif kind == "missing_coordinator":
        acc.add_coordinator(diff.portal, account)
    elif kind == "extra_coordinator":
        acc.remove_coordinator(diff.slurm, account)
    elif kind == "missing_qos":
        acc.add_qos(project.qos_name, ps.qos_settings(project))
    elif kind == "qos_limits":
        acc.modify_qos(project.qos_name, ps.qos_settings(project, state.qos[project.qos_name]))
    elif kind == "qos_list":
        acc.modify_account(account, {"QOS": ps.qos_list(project),
                                     "DefaultQOS": project.qos_name})
    elif kind == "blocked":
        acc.modify_account(account, ps.block_settings(project.is_blocked))
    elif kind == "approval_cap":
        acc.modify_account(account, {"MaxTRES": {"gres/gpu": project.approval_threshold}})
    return None


def _recreate(acc, project: Project) -> None:
    settings: dict = {"Description": project.name, "Organization": ps.ORGANIZATION}
    if project.qos_name:
        acc.add_qos(project.qos_name, ps.qos_settings(project))
        settings.update(QOS=ps.qos_list(project), DefaultQOS=project.qos_name)
    acc.add_account(project.account, settings)
    for m in project.memberships:
        if m.user.unix_user:
            acc.add_user(m.user.unix_user, project.account)
            if m.role == ProjectRole.MANAGER:
                acc.add_coordinator(m.user.unix_user, project.account)
    if project.is_blocked:
        acc.modify_account(project.account, ps.block_settings(True))
    return None


def to_portal(acc, state, project: Project | None, diff) -> str | None:
    """Make the portal match Slurm for `diff` (rows changed, not committed)."""
    kind = diff.kind
    if kind == "unmanaged_account":
        return _import(state, diff.account)
    if kind == "missing_account":
        return "left alone: delete the project in the portal, or fix from the portal"
    if kind == "missing_qos":
        return "left alone: fix from the portal to recreate the project's QOS"
    if kind in ("missing_member", "extra_member", "missing_coordinator", "extra_coordinator"):
        return _people(project, diff)
    if kind == "qos_limits":
        _copy_limits(project, state.qos[project.qos_name])
    elif kind == "qos_list":
        own = state.assocs[project.account]["own"]
        project.extra_qos = sorted(q for q in own.qos if q != project.qos_name)
    elif kind == "approval_cap":
        project.approval_threshold = diff.slurm
    elif kind == "blocked":
        project.status = ProjectStatus.EXPIRED if diff.slurm else ProjectStatus.ACTIVE
        project.blocked_at = db.utcnow() if diff.slurm else None
        project.blocked_reason = "Blocked in Slurm (GrpJobs=0)." if diff.slurm else ""
    return None


def _people(project: Project, diff) -> str | None:
    kind = diff.kind
    name = diff.portal or diff.slurm
    member = membership(project, name)
    if kind == "missing_member":
        db.session.delete(member)
    elif kind == "extra_member":
        user = portal_user(name)
        if user is None:
            return f"left alone: no portal user is bound to the Unix account {name}"
        db.session.add(Membership(user_id=user.id, project_id=project.id,
                                  role=ProjectRole.MEMBER))
    elif member is None:
        return f"left alone: {name} is not a member in the portal"
    else:
        member.role = ProjectRole.MEMBER if kind == "missing_coordinator" else ProjectRole.MANAGER
    return None


def _copy_limits(project: Project, record) -> None:
    grp, per_user = record.grp_tres, record.max_tres_per_user
    project.gpu_limit = grp.get("gres/gpu")
    project.cpu_limit = grp.get("cpu")
    project.mem_limit_gb = None if grp.get("mem") is None else -(-grp["mem"] // 1024)
    project.gpu_per_user = per_user.get("gres/gpu")
    project.max_wall_minutes = record.max_wall
    # Whatever else the QOS carries (e.g. per-model GPUs) stays in Slurm only: clearing
    # it would be a Slurm change, which "from slurm" never makes.


def _import(state, account: str) -> str | None:
    record = state.accounts[account]
    own = (state.assocs.get(account) or {}).get("own")
    qos_name = ps.project_qos_name(account)
    has_qos = own is not None and qos_name in own.qos and qos_name in state.qos
    project = Project(account=account, name=(record.description or account)[:120],
                      qos_name=qos_name if has_qos else None,
                      extra_qos=sorted(q for q in own.qos if q != qos_name) if has_qos else [])
    if has_qos:
        _copy_limits(project, state.qos[qos_name])
    db.session.add(project)
    db.session.flush()
    for user in sorted((state.assocs.get(account) or {}).get("users", {})):
        person = portal_user(user)
        if person is not None:
            role = (ProjectRole.MANAGER if user in record.coordinators else ProjectRole.MEMBER)
            db.session.add(Membership(user_id=person.id, project_id=project.id, role=role))
    return None
