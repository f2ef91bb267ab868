"""OpenAPI paths of the sessions and images API (merged into portal.api.openapi's PATHS
when portal.api.sessions is imported); their schemas come from the models in
portal.api.schemas.sessions."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok, replayed
from portal.api.schemas import components, sessions


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SESSION_ID = [{"name": "session_id", "in": "path", "required": True,
               "schema": {"type": "integer"}}]

SESSION_PATHS: dict = {
    "/sessions": {
        "get": {"summary": "Sessions in the current project (own; managers: all members')",
                "responses": {"200": _ok(_list("Session")), **_errors(401)}},
        "post": {"summary": "Create a session; with `members` (managers) one per member × count",
                 "requestBody": _body(_ref("SessionInput")),
                 "responses": {"201": _ok({"oneOf": [_ref("Session"), _list("Session")]},
                                          "Submitted (a list for a batch with `members`)"),
                               "200": replayed(_ref("Session")),
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
                 "requestBody": _body(_ref("ExtendInput")),
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

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(SESSION_PATHS)
    SCHEMAS.update(components(sessions.OUTPUTS, sessions.INPUTS))
