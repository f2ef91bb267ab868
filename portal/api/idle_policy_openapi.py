"""OpenAPI entries of /projects/{project_id}/idle-policy (issue #17 item 2), merged into
portal.api.openapi's PATHS when portal.api.idle_policy loads; the schemas come from
portal.api.schemas.idle_policy."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, idle_policy

PARAMS = [{"name": "project_id", "in": "path", "required": True,
           "schema": {"type": "integer"}}]
REF = {"$ref": "#/components/schemas/IdlePolicy"}

IDLE_PATHS = {
    "/projects/{project_id}/idle-policy": {
        "get": {"summary": "Admins: the project's idle-reclaim policy",
                "parameters": PARAMS,
                "responses": {"200": _ok(REF), **_errors(401, 403, 404)}},
        "put": {"summary": "Admins: set the project's idle-reclaim policy (audited; a bad "
                           "value is a 400 invalid_idle_policy and changes nothing)",
                "parameters": PARAMS,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/IdlePolicyInput"}}}},
                "responses": {"200": _ok(REF), **_errors(400, 401, 403, 404)}},
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(IDLE_PATHS)
    SCHEMAS.update(components(idle_policy.OUTPUTS, idle_policy.INPUTS))
