"""OpenAPI paths and schemas of /projects, /extensions and /qos (F2, F13), merged into
portal.api.openapi's PATHS/SCHEMAS when portal.api.projects loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _path(*names: str, kind: str = "string") -> list[dict]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": kind}}
            for n in names]


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict:
    return _ok({"type": "array", "items": _ref(name)})


NUM = {"type": ["integer", "null"]}
SETTINGS = {
    "start_date": {"type": ["string", "null"], "format": "date"},
    "end_date": {"type": ["string", "null"], "format": "date"},
    "gpu_limit": NUM, "cpu_limit": NUM, "mem_limit_gb": NUM, "gpu_per_user": NUM,
    "max_wall_minutes": NUM, "idle_reclaim_minutes": NUM, "approval_threshold": NUM,
    "members_see_sessions": {"type": "boolean"},
}
ACCOUNT = _path("project_id", kind="integer")
ROLE = {"type": "string", "enum": ["member", "manager"]}
DELETED = {"204": {"description": "Deleted"}, **_errors(400, 401, 403, 404)}

PROJECT_PATHS: dict = {
    "/projects": {
        "get": {"summary": "Your projects (admins: all) with members, quota and live usage "
                           "from the worker's cache",
                "responses": {"200": _list("Project"), **_errors(401)}},
        "post": {"summary": "Admins: create a project (a Slurm account with its own QOS)",
                 "requestBody": _body(_ref("ProjectInput")),
                 "responses": {"201": _ok(_ref("Project"), "Created"),
                               **_errors(400, 401, 403)}},
    },
    "/projects/{project_id}": {
        "get": {"summary": "One project", "parameters": ACCOUNT,
                "responses": {"200": _ok(_ref("Project")), **_errors(401, 404)}},
        "patch": {"summary": "Managers: name, description. Admins: also dates, quota, "
                             "limits and extra_qos",
                  "parameters": ACCOUNT,
                  "requestBody": _body({"type": "object", "properties": {
                      "name": {"type": "string"}, "description": {"type": "string"},
                      "extra_qos": {"type": "array", "items": {"type": "string"}},
                      **SETTINGS}}),
                  "responses": {"200": _ok(_ref("Project")), **_errors(400, 401, 403, 404)}},
    },
    "/projects/{project_id}/members": {
        "post": {"summary": "Managers: add a member (a Slurm association; managers are also "
                            "coordinators)",
                 "parameters": ACCOUNT,
                 "requestBody": _body({"type": "object", "required": ["username"],
                                       "properties": {"username": {"type": "string"},
                                                      "role": ROLE}}),
                 "responses": {"201": _ok(_ref("Project"), "Added"),
                               **_errors(400, 401, 403, 404)}},
    },
    "/projects/{project_id}/members/{user_id}": {
        "patch": {"summary": "Managers: promote or demote (the last manager stays)",
                  "parameters": _path("project_id", "user_id", kind="integer"),
                  "requestBody": _body({"type": "object", "required": ["role"],
                                        "properties": {"role": ROLE}}),
                  "responses": {"200": _ok(_ref("Project")), **_errors(400, 401, 403, 404)}},
        "delete": {"summary": "Managers: remove a member (refused while their jobs are "
                              "active, and for the last manager)",
                   "parameters": _path("project_id", "user_id", kind="integer"),
                   "responses": DELETED},
    },
    "/projects/{project_id}/extensions": {
        "get": {"summary": "The project's extension requests", "parameters": ACCOUNT,
                "responses": {"200": _list("Extension"), **_errors(401, 404)}},
        "post": {"summary": "Members: ask for N more days",
                 "parameters": ACCOUNT,
                 "requestBody": _body({"type": "object", "required": ["days"], "properties": {
                     "days": {"type": "integer", "minimum": 1, "maximum": 365},
                     "reason": {"type": "string"}}}),
                 "responses": {"201": _ok(_ref("Extension"), "Requested"),
                               **_errors(400, 401, 404)}},
    },
    "/extensions": {
        "get": {"summary": "Admins: pending extension requests",
                "responses": {"200": _list("Extension"), **_errors(401, 403)}},
    },
    "/projects/{project_id}/archive": {
        "post": {"summary": "Admins: archive (jobs cancelled; account, approved account and "
                            "QOS blocked in Slurm; records kept)",
                 "parameters": ACCOUNT,
                 "requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "properties": {"reason": {"type": "string"}}}}}},
                 "responses": {"200": _ok(_ref("Project")), **_errors(401, 403, 404, 409)}},
    },
    "/projects/{project_id}/unarchive": {
        "post": {"summary": "Admins: lift an archive (the project's dates then decide)",
                 "parameters": ACCOUNT,
                 "responses": {"200": _ok(_ref("Project")), **_errors(401, 403, 404, 409)}},
    },
    "/users/{user_id}/deactivate": {
        "post": {"summary": "Admins: end the user's jobs and sessions, remove their Slurm "
                            "associations, refuse their logins (history kept)",
                 "parameters": _path("user_id", kind="integer"),
                 "requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "properties": {"reason": {"type": "string"}}}}}},
                 "responses": {"200": _ok({"type": "object"}), **_errors(401, 403, 404, 409)}},
    },
    "/users/{user_id}/reactivate": {
        "post": {"summary": "Admins: logins work again, associations restored",
                 "parameters": _path("user_id", kind="integer"),
                 "responses": {"200": _ok({"type": "object"}), **_errors(401, 403, 404, 409)}},
    },
    "/extensions/{request_id}": {
        "post": {"summary": "Admins: approve (moves the end date, unblocks) or reject",
                 "parameters": _path("request_id", kind="integer"),
                 "requestBody": _body({"type": "object", "required": ["decision"],
                                       "properties": {
                                           "decision": {"type": "string",
                                                        "enum": ["approve", "reject"]},
                                           "message": {"type": "string"},
                                           "expected_end_date": {
                                               "type": "string", "format": "date",
                                               "description": "The resulting_end_date "
                                               "you were shown; refused "
                                               "(end_date_changed) if it moved"}}}),
                 "responses": {"200": _ok(_ref("Extension")), **_errors(400, 401, 403, 404)}},
    },
    "/qos": {
        "get": {"summary": "Admins: every QOS with the accounts that use it",
                "responses": {"200": _list("Qos"), **_errors(401, 403)}},
        "post": {"summary": "Admins: create a QOS", "requestBody": _body(_ref("QosInput")),
                 "responses": {"201": _ok(_ref("Qos"), "Created"), **_errors(400, 401, 403)}},
    },
    "/qos/{qos_id}": {
        "get": {"summary": "Admins: one QOS", "parameters": _path("qos_id", kind="integer"),
                "responses": {"200": _ok(_ref("Qos")), **_errors(401, 403, 404)}},
        "patch": {"summary": "Admins: change limits (null clears one)",
                  "parameters": _path("qos_id", kind="integer"),
                  "requestBody": _body(_ref("QosInput")),
                  "responses": {"200": _ok(_ref("Qos")), **_errors(400, 401, 403, 404)}},
        "delete": {"summary": "Admins: delete a QOS no project or account uses",
                   "parameters": _path("qos_id", kind="integer"), "responses": DELETED},
    },
}

QOS_LIMITS = {k: NUM for k in ("grp_gpus", "grp_cpus", "grp_mem_gb", "max_gpus_per_user",
                               "max_cpus_per_user", "max_wall_minutes", "max_jobs_per_user")}
PROJECT_SCHEMAS: dict = {
    "ProjectInput": {"type": "object", "required": ["account", "name"], "properties": {
        "account": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,31}$"},
        "name": {"type": "string", "maxLength": 120}, "description": {"type": "string"},
        "managers": {"type": "array", "items": {"type": "string"}},
        "members": {"type": "array", "items": {"type": "string"}}, **SETTINGS}},
    "Project": {"type": "object", "properties": {
        "id": {"type": "integer"}, "account": {"type": "string"}, "name": {"type": "string"},
        "description": {"type": "string"}, "start_date": SETTINGS["start_date"],
        "end_date": SETTINGS["end_date"],
        "status": {"type": "string", "enum": ["active", "expired"]},
        "blocked_reason": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]},
        "qos": {"type": ["string", "null"]},
        "extra_qos": {"type": "array", "items": {"type": "string"}},
        "members_see_sessions": {"type": "boolean"},
        "quota": {"type": "object", "properties": {k: NUM for k in (
            "gpus", "cpus", "mem_gb", "gpus_per_user", "max_wall_minutes",
            "idle_reclaim_minutes", "approval_threshold")}},
        "members": {"type": "array", "items": {"type": "object", "properties": {
            "user_id": {"type": "integer"}, "username": {"type": "string"},
            "unix_user": {"type": ["string", "null"]},
            "role": ROLE}}},
        "usage": {"type": "object", "properties": {
            "gpus": {"type": "integer"}, "cpus": {"type": "integer"},
            "mem_gb": {"type": "number"}, "running": {"type": "integer"},
            "pending": {"type": "integer"}, "partial": {"type": "boolean"},
            "as_of": {"type": ["string", "null"]}}}}},
    "Extension": {"type": "object", "properties": {
        "id": {"type": "integer"}, "project": {"type": "string"}, "days": {"type": "integer"},
        "reason": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
        "requested_by": {"type": ["string", "null"]}, "created_at": {"type": "string"},
        "decided_by": {"type": ["string", "null"]},
        "decision_message": {"type": ["string", "null"]},
        "new_end_date": {"type": ["string", "null"]},
        "end_date": {"type": ["string", "null"], "description": "The project's end date now"},
        "resulting_end_date": {"type": ["string", "null"],
                               "description": "Pending: the end date approving it today "
                                              "gives (from the end date, or from today "
                                              "once that has passed)"}}},
    "QosInput": {"type": "object", "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "priority": {"type": "integer"},
        "grp_gpus_by_model": {"type": "object", "additionalProperties": {"type": "integer"}},
        **QOS_LIMITS}},
    "Qos": {"type": "object", "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "priority": {"type": "integer"},
        "grp_gpus_by_model": {"type": "object", "additionalProperties": {"type": "integer"}},
        "used_by": {"type": "array", "items": {"type": "string"}},
        "project_qos": {"type": "boolean"}, "id": {"type": ["integer", "null"]},
        **QOS_LIMITS}},
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(PROJECT_PATHS)
    SCHEMAS.update(PROJECT_SCHEMAS)
