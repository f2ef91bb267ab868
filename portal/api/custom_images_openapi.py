"""OpenAPI paths of the custom images API (F4), merged into portal.api.openapi's PATHS
when portal.api.custom_images is imported; the schemas come from
portal.api.schemas.custom_images."""

from __future__ import annotations

from portal.api.openapi import ERROR, _ok
from portal.api.openapi import _errors as _base_errors
from portal.api.schemas import components, custom_images


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
                   "responses": {"200": _ok(_ref("DeletedImage")),
                                 **_errors(401, 403, 404, 409)}},
    },
}

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(IMAGE_PATHS)
    SCHEMAS.update(components(custom_images.OUTPUTS, custom_images.INPUTS))
    images = PATHS.get("/images")
    if images and "post" in images:  # the public-image registration also takes a commit
        images["post"]["summary"] = (
            "Register a public image (platform admins), or with `session_id` commit a "
            "running session to a custom image (see POST /images/custom)")
        images["post"]["responses"].setdefault("202", _ok(_ref("CustomImage"), "Queued"))
