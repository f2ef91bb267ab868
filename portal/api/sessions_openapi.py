"""OpenAPI paths and schemas of the sessions and images API (merged into
portal.api.openapi's PATHS/SCHEMAS when portal.api.sessions is imported)."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SESSION_ID = [{"name": "session_id", "in": "path", "required": True,
               "schema": {"type": "integer"}}]
STRINGS = {"type": "array", "items": {"type": "string"}}
INTS = {"type": "array", "items": {"type": "integer"}}

SESSION_PATHS: dict = {
    "/sessions": {
        "get": {"summary": "Sessions in the current project (own; managers: all members')",
                "responses": {"200": _ok(_list("Session")), **_errors(401)}},
        "post": {"summary": "Create a session; with `members` (managers) one per member × count",
                 "requestBody": _body(_ref("SessionInput")),
                 "responses": {"201": _ok(_ref("Session"), "Submitted (a list for batch)"),
                               **_errors(400, 401, 403)}},
    },
    "/sessions/{session_id}": {
        "get": {"summary": "A session with its connection information (owner)",
                "parameters": SESSION_ID,
                "responses": {"200": _ok(_ref("Session")), **_errors(401, 404)}},
        "delete": {"summary": "scancel the session (state `deleting` until Slurm confirms)",
                   "parameters": SESSION_ID,
                   "responses": {"202": _ok(_ref("Session"), "Deleting"),
                                 **_errors(400, 401, 404)}},
    },
    "/sessions/{session_id}/accept": {
        "post": {"summary": "Accept a session a manager asked for with a custom image "
                            "(owner; state `awaiting`): it is submitted as you now",
                 "parameters": SESSION_ID,
                 "responses": {"200": _ok(_ref("Session")), **_errors(400, 401, 404)}},
    },
    "/sessions/{session_id}/extend": {
        "post": {"summary": "Extend a running session by `hours` (owner; issue #17): the "
                            "operator raises its Slurm TimeLimit, capped by the project's "
                            "MaxWall, the partition's MaxTime and what the wallet covers; "
                            "a cap answers 409 `extend_over_<cap>` with `cap` and "
                            "`most_hours`. Takes an Idempotency-Key",
                 "parameters": SESSION_ID,
                 "requestBody": _body({"type": "object", "required": ["hours"],
                                       "properties": {"hours": {"type": "integer",
                                                                "minimum": 1}}}),
                 "responses": {"200": _ok(_ref("Session"), "Extended (see `ends_at`)"),
                               **_errors(400, 401, 404),
                               "409": {"description": "A cap or the state refuses it: "
                                                      "`error.cap`, `error.most_hours`",
                                       "content": {"application/json": {"schema": {
                                           "$ref": "#/components/schemas/Error"}}}}}},
    },
    "/sessions/{session_id}/decline": {
        "post": {"summary": "Decline a session a manager asked for (owner; state "
                            "`awaiting`): nothing was submitted, it leaves the list",
                 "parameters": SESSION_ID,
                 "responses": {"200": _ok(_ref("Session")), **_errors(401, 404)}},
    },
    "/images": {
        "get": {"summary": "Images the user may start (public; custom ones later)",
                "responses": {"200": _ok(_list("Image")), **_errors(401)}},
        "post": {"summary": "Register a public image (platform admins)",
                 "requestBody": _body(_ref("ImageInput")),
                 "description": "With `session_id` instead: commit a running session "
                                "to a custom image, as POST /images/custom (202).",
                 "responses": {"201": _ok(_ref("RegisteredImage"), "Registered"),
                               "202": _ok(_ref("CustomImage"), "Queued (with session_id)"),
                               **_errors(400, 401, 403)}},
    },
}

SESSION_SCHEMAS: dict = {
    "SessionInput": {
        "type": "object", "required": ["name", "image"],
        "properties": {
            "name": {"type": "string"}, "image": {"type": "string"},
            "image_type": {"enum": ["public", "custom"]},
            "gpu_model": {"type": "string"}, "gpu_count": {"type": "integer"},
            "cpus": {"type": "integer"}, "mem_gb": {"type": "integer"},
            "shm_gb": {"type": "integer"},
            "start": {"enum": ["now", "at"]}, "begin_at": {"type": "string", "format": "date-time"},
            "end": {"enum": ["never", "at", "hours"]},
            "end_at": {"type": "string", "format": "date-time"}, "hours": {"type": "integer"},
            "ssh_auth": {"enum": ["none", "key", "password"]}, "ssh_key_ids": INTS,
            "webterm_password": {"type": "string"}, "whitelist_ids": INTS,
            "allow_all": {"type": "boolean"},
            "writable": {"type": "boolean", "default": False,
                         "description": "Keep changes to the container (a per-session copy "
                                        "of the image, needed to save it as a custom image; "
                                        "start-up takes longer). Refused (400 "
                                        "writable_disabled) where the portal does not offer "
                                        "it (session_writable = false)."},
            "reason": {"type": ["string", "null"],
                       "description": "Why it is needed, for the manager who approves it "
                                      "(projects with an approval threshold)"},
            "members": {"type": "object", "additionalProperties": {"type": "integer"},
                        "description": "Batch create (managers): username → count"},
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "owner": {"type": "string"},
            "project": {"type": "string"},
            "state": {"enum": ["awaiting", "submitting", "pending", "starting", "running",
                               "deleting", "ended", "failed", "declined", "withdrawn"],
                      "description": "awaiting: a manager asked for it with a custom image; "
                                     "nothing is submitted until the owner accepts"},
            "acceptance": {
                "type": "object", "description": "Only while `awaiting`: what is asked",
                "properties": {"requested_by": {"type": ["string", "null"]},
                               "image": {"type": "string"},
                               "image_name": {"type": "string"},
                               "built_by": {"type": ["string", "null"]},
                               "from_session": {"type": ["string", "null"]},
                               "image_available": {"type": "boolean"},
                               "image_type": {"type": "string"},
                               "image_description": {"type": ["string", "null"]},
                               "requested_at": {"type": ["string", "null"]}}},
            "reason": {"type": ["string", "null"]}, "reason_text": {"type": "string"},
            "deployment_id": {"type": ["string", "null"], "description": "Slurm job id"},
            "slurm_job_id": {"type": ["string", "null"]},
            "slurm_state": {"type": ["string", "null"]},
            "shm_gb": {"type": "integer"}, "time_limit_min": {"type": ["integer", "null"]},
            "created_at": {"type": ["string", "null"]},
            "started_at": {"type": ["string", "null"]},
            "begin_at": {"type": ["string", "null"]}, "end_at": {"type": ["string", "null"]},
            "ends_at": {"type": ["string", "null"],
                        "description": "While starting or running: when its time ends"},
            "whitelists": STRINGS, "allow_all": {"type": "boolean"},
            "gpu_model": {"type": ["string", "null"]}, "gpu_count": {"type": "integer"},
            "cpus": {"type": "integer"}, "mem_gb": {"type": "integer"},
            "image": {"type": "string"}, "framework": {"type": "string"},
            "services": STRINGS, "nodes": STRINGS, "error": {"type": ["string", "null"]},
            "writable": {"type": "boolean",
                         "description": "Keeps changes to the container (can be saved as a "
                                        "custom image)"},
            "stages": {
                "type": "array",
                "description": "Time to ready, in order: queued (Slurm accepted the job), "
                               "started (Slurm says RUNNING), container (its services "
                               "listen), app (Jupyter answers through the portal); `at` "
                               "is null until reached, `seconds` since the stage before "
                               "(the first: since the session was asked for)",
                "items": {"type": "object", "properties": {
                    "stage": {"enum": ["queued", "started", "container", "app"]},
                    "at": {"type": ["string", "null"]},
                    "seconds": {"type": ["number", "null"]}}}},
            "time_to_ready_s": {"type": ["number", "null"],
                                "description": "From the request to the app answering"},
            "efficiency": {"$ref": "#/components/schemas/Efficiency"},
            "connection": {
                "type": "object",
                "properties": {"host": {"type": ["string", "null"]},
                               "ssh_command": {"type": ["string", "null"]},
                               "jupyter_url": {"type": ["string", "null"]},
                               "terminal_url": {"type": ["string", "null"]}}},
        },
    },
    "Image": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "display_name": {"type": "string"},
                       "type": {"type": "string"}, "framework": {"type": "string"},
                       "services": STRINGS, "auth": STRINGS},
    },
    "ImageInput": {
        "type": "object", "required": ["name", "path"],
        "properties": {"name": {"type": "string"}, "path": {"type": "string"},
                       "framework": {"type": "string"}, "display_name": {"type": "string"},
                       "description": {"type": "string"}, "services": STRINGS,
                       "auth_methods": STRINGS, "shell": {"type": "string"}},
    },
    "RegisteredImage": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "display_name": {"type": "string"},
                       "description": {"type": ["string", "null"]},
                       "path": {"type": "string"}, "framework": {"type": "string"},
                       "services": STRINGS, "auth": STRINGS, "shell": {"type": ["string", "null"]},
                       "enabled": {"type": "boolean"}},
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(SESSION_PATHS)
    SCHEMAS.update(SESSION_SCHEMAS)
