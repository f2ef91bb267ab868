"""OpenAPI paths of /projects, /extensions, /users/{user_id}/... and /qos (F2, F13),
merged into portal.api.openapi's PATHS when portal.api.projects loads; the schemas come
from portal.api.schemas.projects."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, projects


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _path(*names: str, kind: str = "string") -> list[dict]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": kind}}
            for n in names]


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict:
    return _ok({"type": "array", "items": _ref(name)})


ACCOUNT = _path("project_id", kind="integer")
REASON = {"content": {"application/json": {"schema": _ref("ReasonInput")}}}
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
                  "requestBody": _body(_ref("ProjectUpdateInput")),
                  "responses": {"200": _ok(_ref("Project")), **_errors(400, 401, 403, 404)}},
    },
    "/projects/{project_id}/members": {
        "post": {"summary": "Managers: add a member (a Slurm association; managers are also "
                            "coordinators)",
                 "parameters": ACCOUNT,
                 "requestBody": _body(_ref("MemberInput")),
                 "responses": {"201": _ok(_ref("Project"), "Added"),
                               **_errors(400, 401, 403, 404)}},
    },
    "/projects/{project_id}/members/{user_id}": {
        "patch": {"summary": "Managers: promote or demote (the last manager stays)",
                  "parameters": _path("project_id", "user_id", kind="integer"),
                  "requestBody": _body(_ref("RoleInput")),
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
                 "requestBody": _body(_ref("ExtensionInput")),
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
                 "requestBody": REASON,
                 "responses": {"200": _ok(_ref("ArchivedProject")),
                               **_errors(401, 403, 404, 409)}},
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
                 "requestBody": REASON,
                 "responses": {"200": _ok(_ref("DeactivatedUser")),
                               **_errors(401, 403, 404, 409)}},
    },
    "/users/{user_id}/reactivate": {
        "post": {"summary": "Admins: logins work again, associations restored",
                 "parameters": _path("user_id", kind="integer"),
                 "responses": {"200": _ok(_ref("UserStatus")),
                               **_errors(401, 403, 404, 409)}},
    },
    "/extensions/{request_id}": {
        "post": {"summary": "Admins: approve (moves the end date, unblocks) or reject",
                 "parameters": _path("request_id", kind="integer"),
                 "requestBody": _body(_ref("DecisionInput")),
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

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(PROJECT_PATHS)
    SCHEMAS.update(components(projects.OUTPUTS, projects.INPUTS))
