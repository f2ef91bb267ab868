"""/api/v1/projects/<id>/idle-policy: a project's idle-reclaim policy (issue #17 item 2),
for platform admins, on the same service as the admin page and `portal idle-policy`.

PUT replaces the whole policy: `limit_s` (0 switches reclaim off), `warn_s` (seconds idle
at which the owner is warned) and `gpu_threshold` (%). The body is checked for types here
(JSON numbers only: "90" or true are refused, not guessed), the values by
idle.clean_policy; a refusal is a 400 `invalid_idle_policy` and changes nothing.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import admin_required
from portal.api.blueprint import bp
from portal.api.idle_policy_openapi import register
from portal.services import ServiceError, idle

register()
FIELDS = ("limit_s", "warn_s", "gpu_threshold")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _policy_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    unknown = sorted(k for k in body if k not in FIELDS)
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(unknown)} (allowed: "
                           f"{', '.join(FIELDS)}).", "invalid_idle_policy")
    if "limit_s" not in body or not _number(body["limit_s"]):
        raise ServiceError("limit_s is a number of seconds (0 switches idle reclaim off).",
                           "invalid_idle_policy")
    warn = body.get("warn_s", [])
    if not isinstance(warn, list) or not all(_number(p) for p in warn):
        raise ServiceError("warn_s is a list of numbers of seconds.", "invalid_idle_policy")
    threshold = body.get("gpu_threshold", 5.0)
    if not _number(threshold):
        raise ServiceError("gpu_threshold is a number (percent).", "invalid_idle_policy")
    return {"limit_s": body["limit_s"], "warn_s": warn, "gpu_threshold": threshold}


@bp.get("/projects/<int:project_id>/idle-policy")
@admin_required
def get_idle_policy(project_id: int):
    return jsonify(idle.policy_view(project_id))


@bp.put("/projects/<int:project_id>/idle-policy")
@admin_required
def put_idle_policy(project_id: int):
    idle.set_policy(g.api_user, project_id, **_policy_body())
    return jsonify(idle.policy_view(project_id))
