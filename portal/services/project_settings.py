"""Admin-only project settings (F13): dates, quota, limits, visibility, attached QOS.

Quota, the per-user GPU cap and the session limit live on the project QOS; a project the
portal adopted without one (the demo projects) gets it the first time an admin sets a
limit or attaches a QOS. Moving the end date blocks or unblocks the project in Slurm at
once (see project_expiry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import lazy_gettext as _l

from portal.models import Project
from portal.services import Forbidden, ServiceError
from portal.services import project_rules as rules
from portal.services import project_slurm as ps
from portal.services.project_expiry import sync_block
from portal.services.projects import _audit, get_project

QOS_FIELDS = ("gpu_limit", "cpu_limit", "mem_limit_gb", "gpu_per_user", "max_wall_minutes")


def update_settings(actor, project_id: int, data: Mapping[str, object],
                    extra_qos: Iterable[str] | None = None) -> Project:
    """Admin: change any of rules.SETTING_FIELDS given in `data`, and (when given) the
    list of admin QOS the project may use besides its own.

    Raises Forbidden, NotFound, ServiceError for bad values or an unknown QOS, and the
    Slurm errors of `both_sides` (then nothing changed anywhere).
    """
    if not actor.is_admin:
        raise Forbidden(_l("Only platform administrators change quota, limits and dates."))
    project = get_project(actor, project_id)
    old = rules.settings_of(project)
    new = rules.clean_settings(data, old)
    attached = None if extra_qos is None else _clean_qos_list(project, extra_qos)
    changed = {k: _plain(v) for k, v in new.items() if v != old.get(k)}
    if attached is not None and attached != list(project.extra_qos or []):
        changed["extra_qos"] = attached
    if not changed:
        return project
    with ps.both_sides() as changes:
        for key, value in new.items():
            setattr(project, key, value)
        qos_changed = any(k in changed for k in QOS_FIELDS)
        if qos_changed or "extra_qos" in changed:
            _ensure_project_qos(changes, project)
        if qos_changed:
            _apply_qos_limits(changes, project)
        if "extra_qos" in changed:
            _apply_qos_list(changes, project, attached)
        if "end_date" in changed or "start_date" in changed:
            sync_block(changes, project)
        if "approval_threshold" in changed:
            from portal.services.approvals import apply_cap

            apply_cap(changes, project, old.get("approval_threshold"))
        _audit(actor, "project.settings", project.account, **changed)
    return project


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _clean_qos_list(project: Project, names: Iterable[str]) -> list[str]:
    """The attached QOS: existing admin QOS, never another project's own QOS."""
    from portal.services.qos import is_project_qos

    wanted = sorted({n.strip() for n in names if n and n.strip()})
    own = ps.project_qos_name(project.account)
    for name in wanted:
        if name == own or is_project_qos(name):
            raise ServiceError(_l("%(name)s is a project's own QOS and cannot be attached.",
                                  name=name), "invalid_qos")
    if wanted:
        known = {q.name for q in ps.get_accounts().qos(wanted)}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise ServiceError(_l("Slurm has no QOS called %(names)s.",
                                  names=", ".join(missing)), "unknown_qos")
    return wanted


def _ensure_project_qos(changes, project: Project) -> None:
    """Give an adopted project its own QOS (default and first in the account's list)."""
    if project.qos_name:
        return
    acc, name = changes.accounts, ps.project_qos_name(project.account)
    project.qos_name = name
    changes.step(lambda: acc.add_qos(name, ps.qos_settings(project)),
                 lambda: acc.remove_qos(name), f"add qos {name}")
    old = _current_qos(acc, project.account)
    changes.step(
        lambda: acc.modify_account(project.account, {"QOS": ps.qos_list(project),
                                                     "DefaultQOS": name}),
        lambda: acc.modify_account(project.account, old), f"qos list {project.account}")


def _current_qos(acc, account: str) -> dict:
    own = next((a for a in acc.associations(account) if a.user is None), None)
    if own is None:
        raise ServiceError(_l("Slurm has no account %(name)s; run `portal accounts check`.",
                              name=account), "missing_account")
    return {"QOS": list(own.qos) or ["normal"], "DefaultQOS": own.default_qos}


def _apply_qos_limits(changes, project: Project) -> None:
    acc, name = changes.accounts, project.qos_name
    current = next(iter(acc.qos([name])), None)
    if current is None:
        raise ServiceError(_l("Slurm has no QOS %(name)s; run `portal accounts check`.",
                              name=name), "missing_qos")
    before = {"MaxWall": current.max_wall,
              "GrpTRES": {k: current.grp_tres.get(k) for k in
                          {*current.grp_tres, *ps.project_tres(project)}},
              "MaxTRESPerUser": {k: current.max_tres_per_user.get(k) for k in
                                 {*current.max_tres_per_user, *ps.per_user_tres(project)}}}
    before = {k: v for k, v in before.items() if v != {}}
    changes.step(lambda: acc.modify_qos(name, ps.qos_settings(project, current)),
                 lambda: acc.modify_qos(name, before), f"limits {name}")


def _apply_qos_list(changes, project: Project, attached: list[str]) -> None:
    acc = changes.accounts
    old = _current_qos(acc, project.account)
    project.extra_qos = attached
    changes.step(
        lambda: acc.modify_account(project.account, {"QOS": ps.qos_list(project),
                                                     "DefaultQOS": project.qos_name}),
        lambda: acc.modify_account(project.account, old), f"qos list {project.account}")
