"""The OpenAPI 3.1 description of /api/v1. Each feature adds its paths to PATHS."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _ok(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "Bad input", 401: "No valid token", 403: "Not allowed", 404: "Not found"}
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

TOKEN = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string"},
        "scope": {"type": "string", "enum": ["read", "write", "admin"]},
        "created_at": {"type": "string", "format": "date-time"},
        "last_used_at": {
            "type": ["string", "null"], "format": "date-time",
            "description": "Coalesced: updated at most once per TOKEN_LAST_USED_INTERVAL "
                           "(default 5 minutes).",
        },
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
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Me": {
        "type": "object",
        "properties": {
            "username": {"type": "string"},
            "unix_user": {"type": ["string", "null"]},
            "display_name": {"type": "string"},
            "email": {"type": "string"},
            "is_admin": {"type": "boolean",
                         "description": "Admin rights in force for this token's scope."},
            "token_scope": {"type": "string", "enum": ["read", "write", "admin"]},
            "theme": {"type": "string", "enum": ["light", "dark"]},
            "locale": {"type": ["string", "null"]},
            "projects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "account": {"type": "string"},
                        "name": {"type": "string"},
                        "role": {"type": "string", "enum": ["member", "manager"]},
                    },
                },
            },
        },
    },
    "Cluster": {
        "type": "object",
        "properties": {
            "available": {"type": "boolean"},
            "stale": {"type": "boolean"},
            "taken_at": {"type": ["string", "null"]},
            "age_seconds": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
            "slurm_version": {"type": ["string", "null"]},
            "partitions": {"type": "array", "items": {"type": "object"}},
            "nodes": {"type": "array", "items": {"type": "object"}},
            "gpu_models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "total": {"type": "integer"},
                        "free": {"type": "integer"},
                    },
                },
            },
        },
    },
    "Token": TOKEN,
    "NewToken": {"allOf": [TOKEN, {"type": "object", "properties": {"token": {"type": "string"}}}]},
}


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Slurm GPU portal API", "version": "1", "description": SCOPES_TEXT},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": SCOPES_TEXT},
            },
            "schemas": SCHEMAS,
        },
    }
