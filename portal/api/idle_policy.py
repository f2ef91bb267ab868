"""/api/v1/projects/<id>/idle-policy: a project's idle-reclaim policy (issue #17 item 2),
for platform admins, on the same service as the admin page and `portal idle-policy`.

PUT replaces the whole policy: `limit_s` (0 switches reclaim off), `warn_s` (seconds idle
at which the owner is warned) and `gpu_threshold` (%). The body is checked for types by the
IdlePolicyInput model (JSON numbers only: "90" or true are refused, not guessed), the
values by idle.clean_policy; a refusal is a 400 `invalid_idle_policy` and changes nothing.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import admin_required
from portal.api.blueprint import bp
from portal.api.idle_policy_openapi import register
from portal.api.schemas import parse_body
from portal.api.schemas.idle_policy import IdlePolicy, IdlePolicyInput
from portal.services import idle

register()
MESSAGES = {
    "limit_s": "limit_s is a number of seconds (0 switches idle reclaim off).",
    "warn_s": "warn_s is a list of numbers of seconds.",
    "gpu_threshold": "gpu_threshold is a number (percent).",
}


def _policy_body() -> dict:
    return parse_body(IdlePolicyInput, request.get_json(silent=True), "invalid_idle_policy",
                      MESSAGES)


@bp.get("/projects/<int:project_id>/idle-policy")
@admin_required
def get_idle_policy(project_id: int):
    return jsonify(IdlePolicy.dump(idle.policy_view(project_id)))


@bp.put("/projects/<int:project_id>/idle-policy")
@admin_required
def put_idle_policy(project_id: int):
    idle.set_policy(g.api_user, project_id, **_policy_body())
    return jsonify(IdlePolicy.dump(idle.policy_view(project_id)))
