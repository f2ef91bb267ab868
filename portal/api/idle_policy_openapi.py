"""OpenAPI entries of /projects/{project_id}/idle-policy (issue #17 item 2), merged into
portal.api.openapi's PATHS/SCHEMAS when portal.api.idle_policy loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok

SECONDS = {"type": "integer", "minimum": 0}
POLICY_INPUT = {
    "type": "object", "required": ["limit_s"], "additionalProperties": False,
    "properties": {
        "limit_s": {**SECONDS, "maximum": 30 * 24 * 3600,
                    "description": "Seconds idle before the session is ended; 0: off"},
        "warn_s": {"type": "array", "maxItems": 10, "items": {**SECONDS, "minimum": 1},
                   "description": "Seconds idle at which the owner is warned (each below "
                                  "limit_s)"},
        "gpu_threshold": {"type": "number", "minimum": 0, "maximum": 100, "default": 5,
                          "description": "GPU sessions: mean utilisation (%) under which "
                                         "they count as idle"}}}
POLICY = {"type": "object", "properties": {
    "project_id": {"type": "integer"}, "account": {"type": "string"},
    "enabled": {"type": "boolean"}, "limit_s": SECONDS,
    "warn_s": {"type": "array", "items": SECONDS}, "gpu_threshold": {"type": "number"},
    "updated_at": {"type": ["string", "null"]}, "updated_by": {"type": ["string", "null"]}}}
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
IDLE_SCHEMAS = {"IdlePolicy": POLICY, "IdlePolicyInput": POLICY_INPUT}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(IDLE_PATHS)
    SCHEMAS.update(IDLE_SCHEMAS)
