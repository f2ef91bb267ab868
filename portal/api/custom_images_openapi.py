"""OpenAPI paths and schemas of the custom images API (F4), merged into portal.api.openapi's
PATHS/SCHEMAS when portal.api.custom_images is imported."""

from __future__ import annotations

from portal.api.openapi import ERROR, _ok
from portal.api.openapi import _errors as _base_errors


def _errors(*codes: int) -> dict:
    """Like openapi._errors, plus 409 (the session is stopping, a commit is running, the
    name is taken, the image is in use)."""
    out = _base_errors(*(c for c in codes if c != 409))
    if 409 in codes:
        out["409"] = {"description": "Conflict with the current state",
                      "content": {"application/json": {"schema": ERROR}}}
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


IMAGE_ID = [{"name": "image_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
BODY = {"required": True, "content": {"application/json": {"schema": _ref("CommitInput")}}}

IMAGE_PATHS: dict = {
    "/images/custom": {
        "get": {"summary": "Custom images of the current project (all states, newest first)",
                "responses": {"200": _ok({"type": "array", "items": _ref("CustomImage")}),
                              **_errors(401)}},
        "post": {"summary": "Commit a running session of yours to a new custom image "
                            "(queued; follow `progress` and `state`)",
                 "requestBody": BODY,
                 "responses": {"202": _ok(_ref("CustomImage"), "Queued"),
                               **_errors(400, 401, 404, 409)}},
    },
    "/images/custom/{image_id}": {
        "get": {"summary": "A custom image with its build progress", "parameters": IMAGE_ID,
                "responses": {"200": _ok(_ref("CustomImage")), **_errors(401, 404)}},
        "delete": {"summary": "Delete (creator or manager); refused while sessions use it",
                   "parameters": IMAGE_ID,
                   "responses": {"200": _ok({"type": "object"}), **_errors(401, 403, 404, 409)}},
    },
}

IMAGE_SCHEMAS: dict = {
    "CommitInput": {
        "type": "object", "required": ["session_id", "name"],
        "properties": {
            "session_id": {"type": "integer"},
            "name": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9._-]{0,38}[a-z0-9])?$"},
            "tag": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,19}$",
                    "default": "latest"},
            "display_name": {"type": "string", "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "framework": {"type": "string", "maxLength": 64,
                          "description": "Image type: the framework it provides"},
            "services": {"type": "array",
                         "items": {"enum": ["jupyter", "ssh", "webterm"]}},
        },
    },
    "CustomImage": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "tag": {"type": "string"},
            "key": {"type": "string", "description": "`name:tag`: the `image` of sessions "
                                                     "and jobs with image_type custom"},
            "display_name": {"type": "string"}, "description": {"type": "string"},
            "framework": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}},
            "state": {"enum": ["queued", "building", "ready", "failed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "size_bytes": {"type": "integer"}, "error": {"type": ["string", "null"]},
            "session_id": {"type": ["integer", "null"]}, "session_name": {"type": "string"},
            "created_by": {"type": ["string", "null"]}, "created_at": {"type": "string"},
        },
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(IMAGE_PATHS)
    SCHEMAS.update(IMAGE_SCHEMAS)
    images = PATHS.get("/images")
    if images and "post" in images:  # the public-image registration also takes a commit
        images["post"]["summary"] = (
            "Register a public image (platform admins), or with `session_id` commit a "
            "running session to a custom image (see POST /images/custom)")
        images["post"]["responses"].setdefault("202", _ok(_ref("CustomImage"), "Queued"))
