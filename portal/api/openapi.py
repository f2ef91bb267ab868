"""The OpenAPI 3.1 description of /api/v1. Each feature adds its paths to PATHS and its
typed schemas (portal/api/schemas) to SCHEMAS; the error envelope, the 503 answer and the
Idempotency-Key header, shared by all, are written here."""

from __future__ import annotations

import copy

from portal.api.schemas import account, cluster, components

ERROR = {"$ref": "#/components/schemas/Error"}
OUTAGES = ["controller", "slurmdbd", "database", "node"]  # adapters.errors.outage_of

# Issue #13: every POST takes an Idempotency-Key (portal/api/idempotency.py hooks them all).
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
    "description": "Any unique string (a UUID) chosen by the client. Sending the same POST "
                   "again with the same key returns the first answer (with the header "
                   "`Idempotent-Replayed: true`) instead of doing it twice: retry a create "
                   "whose connection failed with the same key. Keys belong to the token's "
                   "user; the same key with another path or body answers 422 "
                   "`idempotency_key_reused`, and while the first request still runs 409 "
                   "`idempotency_in_progress`.",
}

SLURM_UNAVAILABLE = {
    "description": "Slurm did not answer: `error.code` is `slurm_unavailable` and "
                   "`error.outage` names what is down (`controller`: slurmctld, `slurmdbd`, "
                   "`database`: the MariaDB/MySQL behind slurmdbd, `node`). The message says "
                   "what that meant for the request. A create whose sbatch got no answer is "
                   "on record: the answer carries it (`job` or `session`, with `error.job_id` "
                   "/ `error.session_id`), it is never submitted twice, and the list shows "
                   "within minutes whether Slurm accepted it; a controller that could not be "
                   "reached at all keeps nothing.",
    "content": {"application/json": {"schema": ERROR, "example": {"error": {
        "code": "slurm_unavailable", "outage": "controller",
        "message": "Slurm's controller (slurmctld) did not answer within 30 s (it may be "
                   "overloaded or hung). Nothing was changed; try again in a few minutes."}}}},
}

# Operations whose handler runs Slurm commands, so may answer 503 `slurm_unavailable`.
SLURM_OPERATIONS = {
    ("post", "/jobs"), ("delete", "/jobs/{job_id}"), ("post", "/templates/{template_id}/run"),
    ("post", "/sessions"), ("delete", "/sessions/{session_id}"),
    ("post", "/sessions/{session_id}/accept"),
    ("post", "/approvals/{order_id}/approve"), ("post", "/approvals/{order_id}/reject"),
    ("post", "/projects"), ("patch", "/projects/{project_id}"),
    ("post", "/projects/{project_id}/members"),
    ("patch", "/projects/{project_id}/members/{user_id}"),
    ("delete", "/projects/{project_id}/members/{user_id}"),
    ("post", "/extensions/{request_id}"),
    ("get", "/qos"), ("post", "/qos"), ("patch", "/qos/{qos_id}"), ("delete", "/qos/{qos_id}"),
    ("post", "/jobs/{job_id}/extend"), ("post", "/sessions/{session_id}/extend"),
    ("post", "/projects/{project_id}/archive"), ("post", "/projects/{project_id}/unarchive"),
    ("post", "/users/{user_id}/deactivate"), ("post", "/users/{user_id}/reactivate"),
}


def _ok(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def replayed(schema: dict) -> dict:
    """The 200 that a create answers to a retry with its Idempotency-Key when the first
    request ended before answering (issue #13): what it made, on record."""
    return _ok(schema, "Replayed: the first request with this Idempotency-Key ended before "
                       "answering; this is what it made")


def _errors(*codes: int) -> dict:
    text = {400: "Bad input", 401: "No valid token", 403: "Not allowed", 404: "Not found",
            409: "Refused in its current state (the code says why)",
            503: SLURM_UNAVAILABLE["description"]}
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}}
        for c in codes
    }


PATHS: dict = {
    "/me": {
        "get": {
            "summary": "The token's user, with projects and roles",
            "responses": {"200": _ok({"$ref": "#/components/schemas/Me"}), **_errors(401)},
        }
    },
    "/cluster": {
        "get": {
            "summary": "Partitions, nodes and GPU models with total/free counts (cached)",
            "responses": {"200": _ok({"$ref": "#/components/schemas/Cluster"}), **_errors(401)},
        }
    },
    "/tokens": {
        "get": {
            "summary": "The user's active personal access tokens",
            "responses": {
                "200": _ok({"type": "array", "items": {"$ref": "#/components/schemas/Token"}}),
                **_errors(401),
            },
        },
        "post": {
            "summary": "Refused: a token cannot create tokens",
            "description": "Tokens are created on the profile page (a browser session) or "
                           "with `portal token create` on the portal host, choosing a scope. "
                           "This answers 403 `token_minting_forbidden` for every token.",
            "responses": _errors(401, 403),
        },
    },
    "/tokens/{token_id}": {
        "delete": {
            "summary": "Revoke a token",
            "parameters": [
                {"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {"204": {"description": "Revoked"}, **_errors(401, 404)},
        }
    },
}

SCOPES_TEXT = (
    "Personal access tokens (`Authorization: Bearer gpp_…`) have one scope. `read`: GET and "
    "HEAD only; anything else answers 403 `insufficient_scope`. `write`: also creates, "
    "changes and deletes the owner's own resources with the owner's project roles, never "
    "with platform-admin rights. `admin`: also the owner's platform-admin rights (only "
    "admins can create one). No token can create tokens."
)

SCHEMAS: dict = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "outage": {"type": "string", "enum": OUTAGES,
                               "description": "With 503 `slurm_unavailable`: what is down."},
                    "job_id": {"type": "integer",
                               "description": "With 503: the job on record, not confirmed."},
                    "session_id": {"type": "integer", "description": "The same, for a "
                                                                     "session."},
                    "cap": {"type": "string", "enum": ["max_wall", "partition", "wallet"],
                            "description": "With 409 `extend_over_<cap>`: what caps it."},
                    "most_hours": {"type": "integer",
                                   "description": "With 409 `extend_over_<cap>`: the most "
                                                  "whole hours that still fit."},
                },
            },
            "job": {"$ref": "#/components/schemas/JobDetail",
                    "description": "With 503 on a job create: the job on record."},
            "session": {"$ref": "#/components/schemas/Session",
                        "description": "With 503 on a session create: the session on "
                                       "record."},
        },
    },
    # The token's user, its tokens and the cluster view: typed in portal/api/schemas.
    **components(account.OUTPUTS + cluster.OUTPUTS, []),
}


def _with_reliability(paths: dict) -> dict:
    """The paths with the Idempotency-Key header on every POST and the 503 answer on every
    operation that runs Slurm commands (issue #13), so no feature can forget either."""
    paths = copy.deepcopy(paths)
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            if method == "post":
                params = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" or p.get("$ref") == IDEM_REF
                           for p in params):
                    params.append({"$ref": IDEM_REF})
                answers = operation.setdefault("responses", {})
                for status, text in IDEMPOTENCY_ANSWERS.items():
                    answers.setdefault(status, {"description": text, "content": {
                        "application/json": {"schema": ERROR}}})
            if (method, path) in SLURM_OPERATIONS:
                operation.setdefault("responses", {})["503"] = {"$ref": UNAVAILABLE_REF}
    return paths


IDEM_REF = "#/components/parameters/IdempotencyKey"
# What any POST with an Idempotency-Key may answer (portal/api/idempotency.py).
IDEMPOTENCY_ANSWERS = {
    "409": "The first request with this Idempotency-Key still runs "
           "(`idempotency_in_progress`)",
    "422": "This Idempotency-Key was used with another path or body "
           "(`idempotency_key_reused`)",
}
UNAVAILABLE_REF = "#/components/responses/SlurmUnavailable"


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Slurm GPU portal API", "version": "1", "description": SCOPES_TEXT},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _with_reliability(PATHS),
        "components": {
            "parameters": {"IdempotencyKey": IDEMPOTENCY_KEY},
            "responses": {"SlurmUnavailable": SLURM_UNAVAILABLE},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": SCOPES_TEXT},
            },
            "schemas": SCHEMAS,
        },
    }
