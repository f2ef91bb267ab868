"""Admin QOS management (F13): list, create, edit, delete, and who uses each QOS.

QOS definitions live only in Slurm (sacctmgr is the source of truth, read when the admin
page opens); the portal keeps which projects have a QOS attached. Project QOS (named
"p_<account>") are managed through their project's settings, not here. A QOS is never
deleted while a project or any Slurm association still lists it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.errors import AdapterError
from adapters.factory import QosRecord, tres_update
from portal.models import Project
from portal.services import Forbidden, NotFound, ServiceError
from portal.services import project_slurm as ps
from portal.services.project_rules import parse_whole
from portal.services.projects import _audit

QOS_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
MODEL_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
# Field → (label, smallest, largest, sacctmgr setting, TRES key or None).
FIELDS: dict[str, tuple] = {
    "priority": (_l("Priority"), 0, 1_000_000, "Priority", None),
    "grp_gpus": (_l("Group GPUs"), 0, 100_000, "GrpTRES", "gres/gpu"),
    "grp_cpus": (_l("Group CPUs"), 1, 10_000_000, "GrpTRES", "cpu"),
    "grp_mem_gb": (_l("Group memory (GB)"), 1, 10_485_760, "GrpTRES", "mem"),
    "max_gpus_per_user": (_l("GPUs per user"), 0, 100_000, "MaxTRESPerUser", "gres/gpu"),
    "max_cpus_per_user": (_l("CPUs per user"), 1, 10_000_000, "MaxTRESPerUser", "cpu"),
    "max_wall_minutes": (_l("Longest run (minutes)"), 1, 366 * 24 * 60, "MaxWall", None),
    "max_jobs_per_user": (_l("Running jobs per user"), 0, 1_000_000, "MaxJobsPerUser", None),
}


@dataclass
class QosView:
    """A QOS as the admin pages and the API show it (memory in GB)."""

    name: str
    description: str = ""
    priority: int = 0
    grp_gpus: int | None = None
    grp_gpus_by_model: dict[str, int] = field(default_factory=dict)
    grp_cpus: int | None = None
    grp_mem_gb: int | None = None
    max_gpus_per_user: int | None = None
    max_cpus_per_user: int | None = None
    max_wall_minutes: int | None = None
    max_jobs_per_user: int | None = None
    used_by: list[str] = field(default_factory=list)
    project_qos: bool = False
    id: int | None = None  # Slurm's QOS id (the API's handle)

    def as_dict(self) -> dict:
        return asdict(self)


def is_project_qos(name: str) -> bool:
    return name.startswith(ps.QOS_PREFIX)


def _view(record: QosRecord, used_by: list[str]) -> QosView:
    grp, per_user = record.grp_tres, record.max_tres_per_user
    mem = grp.get("mem")
    return QosView(
        name=record.name, description=record.description, priority=record.priority,
        grp_gpus=grp.get("gres/gpu"),
        grp_gpus_by_model={k.split(":", 1)[1]: v for k, v in grp.items()
                           if k.startswith("gres/gpu:")},
        grp_cpus=grp.get("cpu"), grp_mem_gb=None if mem is None else -(-mem // 1024),
        max_gpus_per_user=per_user.get("gres/gpu"), max_cpus_per_user=per_user.get("cpu"),
        max_wall_minutes=record.max_wall, max_jobs_per_user=record.max_jobs_per_user,
        used_by=used_by, project_qos=is_project_qos(record.name), id=record.id,
    )


def _require_admin(actor) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Only platform administrators manage QOS."))


def _usage(accounts) -> dict[str, list[str]]:
    """QOS name → the accounts (and portal projects) that list it."""
    from portal import db

    used: dict[str, set[str]] = {}
    for assoc in accounts.associations():
        for name in assoc.qos:
            used.setdefault(name, set()).add(assoc.account)
    for project in db.session.scalars(select(Project)):
        for name in [project.qos_name, *(project.extra_qos or [])]:
            if name:
                used.setdefault(name, set()).add(project.account)
    return {k: sorted(v) for k, v in used.items()}


def list_qos(actor) -> list[QosView]:
    """Every QOS with the accounts using it. Raises Forbidden, ServiceError (Slurm down)."""
    _require_admin(actor)
    accounts = ps.get_accounts()
    try:
        records, used = accounts.qos(), _usage(accounts)
    except AdapterError as exc:
        raise ps.slurm_error(exc) from exc
    return [_view(r, used.get(r.name, [])) for r in sorted(records, key=lambda r: r.name)]


def get_qos(actor, name: str) -> QosView:
    for view in list_qos(actor):
        if view.name == name:
            return view
    raise NotFound(_l("No QOS called %(name)s.", name=name))


def name_of(actor, qos_id: int) -> str:
    """The name of the QOS with Slurm id `qos_id`. Raises Forbidden, NotFound."""
    for view in list_qos(actor):
        if view.id == qos_id:
            return view.name
    raise NotFound(_l("No such QOS."))


def parse_models(value: object) -> dict[str, int]:
    """Per-model GPU limits from {"a100": 2} or "a100=2, v100=1". Raises ServiceError."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, str):
        items = [part.partition("=") for part in value.split(",") if part.strip()]
        items = [(m, c) if sep and c.strip() else ("", None) for m, sep, c in items]
    else:
        items = None
    out = {}
    for model, count in items or [("", None)]:
        model = str(model).strip().lower()
        if not MODEL_RE.fullmatch(model) or count is None:
            raise ServiceError(
                _l("Per-model GPU limits look like a100=2, v100=1 (a GPU model, '=', a "
                   "count)."), "invalid_limit")
        out[model] = parse_whole(count, model, 0, 100_000)
    return {k: v for k, v in out.items() if v is not None}


def _settings(data: Mapping[str, object], current: QosRecord | None) -> tuple[dict, dict]:
    """(sacctmgr settings, clean values) for the fields present in `data`."""
    clean = {k: parse_whole(data[k], *FIELDS[k][:3]) for k in FIELDS if k in data}
    settings: dict = {}
    grp = dict(current.grp_tres) if current else {}
    per_user = dict(current.max_tres_per_user) if current else {}
    for key, value in clean.items():
        _label, _low, _high, option, tres = FIELDS[key]
        if tres is None:
            settings[option] = 0 if option == "Priority" and value is None else value
        else:
            target = grp if option == "GrpTRES" else per_user
            amount = value * 1024 if tres == "mem" and value is not None else value
            target.pop(tres, None) if amount is None else target.update({tres: amount})
    if "grp_gpus_by_model" in data:
        clean["grp_gpus_by_model"] = parse_models(data["grp_gpus_by_model"])
        grp = {k: v for k, v in grp.items() if not k.startswith("gres/gpu:")}
        grp.update({f"gres/gpu:{m}": n for m, n in clean["grp_gpus_by_model"].items()})
    for option, wanted, old in (("GrpTRES", grp, current.grp_tres if current else {}),
                                ("MaxTRESPerUser", per_user,
                                 current.max_tres_per_user if current else {})):
        update = tres_update(old, wanted)
        if update and update != dict(old):
            settings[option] = update
    if "description" in data:
        settings["Description"] = str(data["description"] or "")[:200] or "-"
    return settings, clean


def create_qos(actor, name: str, data: Mapping[str, object]) -> QosView:
    """Admin: a new QOS. Raises Forbidden, ServiceError (bad or duplicate name, bad limits,
    Slurm refused or unreachable — then nothing was created)."""
    _require_admin(actor)
    name = (name or "").strip()
    if not QOS_RE.fullmatch(name) or is_project_qos(name):
        raise ServiceError(
            _l("A QOS name is 2–32 characters: lower-case letters, digits, '_' or '-', "
               "starting with a letter; names starting with 'p_' are kept for projects."),
            "invalid_name")
    settings, clean = _settings(data, None)
    with ps.both_sides() as changes:
        if changes.accounts.qos([name]):
            raise ServiceError(_l("QOS %(name)s already exists.", name=name), "duplicate")
        acc = changes.accounts
        changes.step(lambda: acc.add_qos(name, settings), lambda: acc.remove_qos(name))
        _audit(actor, "qos.create", name, **clean)
    return get_qos(actor, name)


def update_qos(actor, name: str, data: Mapping[str, object]) -> QosView:
    """Admin: change the given fields of a QOS (blank clears a limit).

    Raises Forbidden, NotFound, ServiceError (bad limits, a project QOS, Slurm errors).
    """
    _require_admin(actor)
    if is_project_qos(name):
        raise ServiceError(_l("Project QOS are changed through the project's settings."),
                           "project_qos")
    with ps.both_sides() as changes:
        acc = changes.accounts
        current = next(iter(acc.qos([name])), None) if QOS_RE.fullmatch(name or "") else None
        if current is None:
            raise NotFound(_l("No QOS called %(name)s.", name=name))
        settings, clean = _settings(data, current)
        if settings:
            undo = _undo_settings(current, settings)
            changes.step(lambda: acc.modify_qos(name, settings),
                         lambda: acc.modify_qos(name, undo))
            _audit(actor, "qos.update", name, **clean)
    return get_qos(actor, name)


def _undo_settings(current: QosRecord, settings: dict) -> dict:
    undo: dict = {}
    for option in settings:
        if option == "GrpTRES":
            undo[option] = tres_update(settings[option], current.grp_tres)
        elif option == "MaxTRESPerUser":
            undo[option] = tres_update(settings[option], current.max_tres_per_user)
        else:
            undo[option] = {"Priority": current.priority, "MaxWall": current.max_wall,
                            "MaxJobsPerUser": current.max_jobs_per_user,
                            "Description": current.description or "-"}[option]
    return undo


def delete_qos(actor, name: str) -> None:
    """Admin: remove a QOS nobody uses. Raises Forbidden, NotFound, ServiceError
    ("qos_in_use" naming the projects and accounts that still list it)."""
    view = get_qos(actor, name)
    if view.project_qos:
        raise ServiceError(_l("A project's own QOS goes away with its project."),
                           "project_qos")
    if view.used_by:
        raise ServiceError(
            _l("QOS %(name)s is still used by %(users)s. Detach it from those projects "
               "(or accounts) first.", name=name, users=", ".join(view.used_by)),
            "qos_in_use", 409)
    with ps.both_sides() as changes:
        acc = changes.accounts
        changes.step(lambda: acc.remove_qos(name))
        _audit(actor, "qos.delete", name)
