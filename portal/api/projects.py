"""/api/v1/projects (members, quota, usage), extension requests and /api/v1/qos (admins).

Projects, members and QOS are addressed by id (the JSON carries the names too).
Refusals are the services' own: NotFound for projects the token's user is not in,
Forbidden for a member who is not a manager, ServiceError with a stable code for bad
input or a Slurm failure.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import admin_required, token_required
from portal.api.blueprint import bp
from portal.api.projects_openapi import register
from portal.api.schemas import check_fields
from portal.api.schemas.projects import (
    ArchivedProject,
    DeactivatedUser,
    Extension,
    Project,
    ProjectInput,
    Qos,
    UserStatus,
)
from portal.services import Forbidden, ServiceError, project_expiry, project_settings
from portal.services import project_rules as rules
from portal.services import project_usage as pu
from portal.services import projects as svc
from portal.services import qos as qos_service

register()
DETAIL_FIELDS = ("name", "description")
NAMES = ("managers and members are lists of usernames.", "invalid_body")


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


def _date(value) -> str | None:
    return value.isoformat() if value else None


def project_json(project, viewer, usage: dict | None = None, taken_at=None) -> dict:
    """A project for `viewer` (their role in it) with usage from the cached job list."""
    usage_row = (usage or {}).get(project.account, pu.Usage())
    role = svc.role_of(viewer, project)
    return {
        "id": project.id, "account": project.account, "name": project.name,
        "description": project.description, "start_date": _date(project.start_date),
        "end_date": _date(project.end_date), "status": project.status.value,
        "blocked_reason": project.blocked_reason or None, "role": role.value if role else None,
        "qos": project.qos_name, "extra_qos": list(project.extra_qos or []),
        "members_see_sessions": project.members_see_sessions,
        "quota": {"gpus": project.gpu_limit, "cpus": project.cpu_limit,
                  "mem_gb": project.mem_limit_gb, "gpus_per_user": project.gpu_per_user,
                  "max_wall_minutes": project.max_wall_minutes,
                  "idle_reclaim_minutes": project.idle_reclaim_minutes,
                  "approval_threshold": project.approval_threshold},
        "members": [{"user_id": m.user_id, "username": m.user.username,
                     "unix_user": m.user.unix_user,
                     "role": m.role.value}
                    for m in sorted(project.memberships, key=lambda m: m.user.username)],
        "usage": {"gpus": usage_row.gpus, "cpus": usage_row.cpus,
                  "mem_gb": round(usage_row.mem_mb / 1024, 1), "running": usage_row.running,
                  "pending": usage_row.pending, "partial": usage_row.partial,
                  "as_of": taken_at.isoformat() + "Z" if taken_at else None},
    }


def _one(project):
    jobs, taken_at = pu.cached_jobs()
    return jsonify(Project.dump(project_json(project, g.api_user, pu.usage_by_account(jobs),
                                             taken_at)))


def extension_json(req) -> dict:
    return {
        "id": req.id, "project": req.project.account, "days": req.days, "reason": req.reason,
        "status": req.status.value,
        "requested_by": req.requested_by.username if req.requested_by else None,
        "created_at": req.created_at.isoformat() + "Z",
        "decided_by": req.decided_by.username if req.decided_by else None,
        "decision_message": req.decision_message or None,
        "new_end_date": _date(req.new_end_date),
        # While pending: the end date approving it today would give (issue #16).
        "end_date": _date(req.project.end_date),
        "resulting_end_date": _date(project_expiry.resulting_end_date(req.project, req.days))
        if req.status.value == "pending" else None,
    }


@bp.get("/projects")
@token_required
def list_projects():
    jobs, taken_at = pu.cached_jobs()
    usage = pu.usage_by_account(jobs)
    return jsonify(Project.dump_all(project_json(p, g.api_user, usage, taken_at)
                                    for p in svc.visible_projects(g.api_user)))


@bp.post("/projects")
@token_required
def create_project():
    body = _body()
    check_fields(ProjectInput, body, {field: NAMES for field in ("managers", "members")})
    settings = {k: body[k] for k in rules.SETTING_FIELDS if k in body}
    project = svc.create_project(
        g.api_user, account=body.get("account"), name=body.get("name"),
        description=body.get("description", ""), settings=settings,
        managers=body.get("managers") or [], members=body.get("members") or [])
    return _one(project), 201


@bp.get("/projects/<int:project_id>")
@token_required
def get_project(project_id: int):
    return _one(svc.get_project(g.api_user, project_id))


@bp.patch("/projects/<int:project_id>")
@token_required
def update_project(project_id: int):
    """Managers: name, description. Admins: also dates, quota, limits, extra_qos."""
    body = _body()
    project = svc.get_project(g.api_user, project_id, manage=True)
    admin_keys = [k for k in body if k in (*rules.SETTING_FIELDS, "extra_qos")]
    unknown = [k for k in body if k not in (*DETAIL_FIELDS, *admin_keys)]
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(sorted(unknown))}.", "invalid_body")
    if admin_keys and not g.api_user.is_admin:
        raise Forbidden("Only platform administrators change quota, limits and dates.")
    if admin_keys:
        project_settings.update_settings(
            g.api_user, project.id, {k: body[k] for k in rules.SETTING_FIELDS if k in body},
            extra_qos=body.get("extra_qos"))
    if any(k in body for k in DETAIL_FIELDS):
        svc.update_details(g.api_user, project.id, name=body.get("name"),
                           description=body.get("description"))
    return _one(project)


@bp.post("/projects/<int:project_id>/members")
@token_required
def add_member(project_id: int):
    body = _body()
    project = svc.get_project(g.api_user, project_id, manage=True)
    svc.add_member(g.api_user, project.id, body.get("username") or "",
                   _role(body.get("role", "member")))
    return _one(project), 201


def _role(value):
    if value not in ("member", "manager"):
        raise ServiceError("A role is 'member' or 'manager'.", "invalid_role")
    return value


@bp.patch("/projects/<int:project_id>/members/<int:user_id>")
@token_required
def set_member_role(project_id: int, user_id: int):
    body = _body()
    project = svc.get_project(g.api_user, project_id, manage=True)
    svc.set_role(g.api_user, project.id, user_id, _role(body.get("role")))
    return _one(project)


@bp.delete("/projects/<int:project_id>/members/<int:user_id>")
@token_required
def remove_member(project_id: int, user_id: int):
    project = svc.get_project(g.api_user, project_id, manage=True)
    svc.remove_member(g.api_user, project.id, user_id)
    return "", 204


@bp.post("/projects/<int:project_id>/archive")
@admin_required
def archive_project(project_id: int):
    """Admins: cancel the project's jobs and block it in Slurm; records stay (issue #16)."""
    from portal.services import lifecycle

    body = request.get_json(silent=True) or {}
    done = lifecycle.archive_project(g.api_user, project_id,
                                     reason=str(body.get("reason") or "")
                                     if isinstance(body, dict) else "")
    out = project_json(svc.get_project(g.api_user, project_id), g.api_user, {}, None)
    return jsonify(ArchivedProject.dump({**out, "cancelled": done["cancelled"],
                                         "blocked": done["accounts"]}))


@bp.post("/projects/<int:project_id>/unarchive")
@admin_required
def unarchive_project(project_id: int):
    from portal.services import lifecycle

    return _one(lifecycle.unarchive_project(g.api_user, project_id))


def _user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "unix_user": user.unix_user,
            "active": user.is_enabled}


def _username(user_id: int) -> str:
    from portal import db
    from portal.models import User
    from portal.services import NotFound

    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user.username


@bp.post("/users/<int:user_id>/deactivate")
@admin_required
def deactivate_user(user_id: int):
    """Admins: end the user's jobs, remove their associations, refuse their logins."""
    from portal.services import lifecycle
    from portal.services.users import get_user

    username = _username(user_id)
    body = request.get_json(silent=True) or {}
    done = lifecycle.deactivate_user(g.api_user, username,
                                     reason=str(body.get("reason") or "")
                                     if isinstance(body, dict) else "")
    return jsonify(DeactivatedUser.dump({**_user_json(get_user(username)),
                                         "cancelled": done["cancelled"],
                                         "removed_from": done["accounts"]}))


@bp.post("/users/<int:user_id>/reactivate")
@admin_required
def reactivate_user(user_id: int):
    from portal.services import lifecycle

    return jsonify(UserStatus.dump(_user_json(lifecycle.reactivate_user(g.api_user,
                                                                        _username(user_id)))))


@bp.get("/projects/<int:project_id>/extensions")
@token_required
def list_extensions(project_id: int):
    project = svc.get_project(g.api_user, project_id)
    return jsonify(Extension.dump_all(extension_json(r) for r in project.extension_requests))


@bp.post("/projects/<int:project_id>/extensions")
@token_required
def request_extension(project_id: int):
    body = _body()
    project = svc.get_project(g.api_user, project_id)
    req = project_expiry.request_extension(g.api_user, project.id, body.get("days"),
                                           body.get("reason") or "")
    return jsonify(Extension.dump(extension_json(req))), 201


@bp.get("/extensions")
@admin_required
def pending_extensions():
    return jsonify(Extension.dump_all(extension_json(r)
                                      for r in project_expiry.pending_requests()))


@bp.post("/extensions/<int:request_id>")
@admin_required
def decide_extension(request_id: int):
    body = _body()
    if body.get("decision") not in ("approve", "reject"):
        raise ServiceError("decision is 'approve' or 'reject'.", "invalid_body")
    req = project_expiry.decide(g.api_user, request_id, body["decision"] == "approve",
                                body.get("message") or "", body.get("expected_end_date"))
    return jsonify(Extension.dump(extension_json(req)))


@bp.get("/qos")
@admin_required
def list_qos():
    return jsonify(Qos.dump_all(q.as_dict() for q in qos_service.list_qos(g.api_user)))


@bp.post("/qos")
@admin_required
def create_qos():
    body = _body()
    view = qos_service.create_qos(g.api_user, body.get("name") or "",
                                  {k: v for k, v in body.items() if k != "name"})
    return jsonify(Qos.dump(view.as_dict())), 201


@bp.get("/qos/<int:qos_id>")
@admin_required
def get_qos(qos_id: int):
    name = qos_service.name_of(g.api_user, qos_id)
    return jsonify(Qos.dump(qos_service.get_qos(g.api_user, name).as_dict()))


@bp.patch("/qos/<int:qos_id>")
@admin_required
def update_qos(qos_id: int):
    name = qos_service.name_of(g.api_user, qos_id)
    return jsonify(Qos.dump(qos_service.update_qos(g.api_user, name, _body()).as_dict()))


@bp.delete("/qos/<int:qos_id>")
@admin_required
def delete_qos(qos_id: int):
    qos_service.delete_qos(g.api_user, qos_service.name_of(g.api_user, qos_id))
    return "", 204
