"""/api/v1 for F4 custom images: list the project's images, commit a session, follow the
build's progress, delete. `POST /images` with a `session_id` is the same commit (without
one it is the admins' public-image registration, portal.api.sessions)."""

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.custom_images_openapi import register
from portal.api.schemas.custom_images import CustomImage, DeletedImage
from portal.services import ServiceError
from portal.services import custom_images as svc

register()


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


def commit_from_body(user, body: dict):
    """202 with the queued image; `session_id` must be an integer."""
    session_id = body.get("session_id")
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise ServiceError("session_id must be the id of one of your running sessions.",
                           "invalid_session_id")
    image = svc.commit(user, session_id, body)
    return jsonify(CustomImage.dump(svc.image_json(image))), 202


@bp.get("/images/custom")
@token_required
def list_custom_images():
    return jsonify(CustomImage.dump_all(svc.image_json(i) for i in svc.project_images(g.api_user)))


@bp.post("/images/custom")
@token_required
def commit_custom_image():
    return commit_from_body(g.api_user, _body())


@bp.get("/images/custom/<int:image_id>")
@token_required
def get_custom_image(image_id: int):
    return jsonify(CustomImage.dump(svc.image_json(svc.get_image(g.api_user, image_id))))


@bp.delete("/images/custom/<int:image_id>")
@token_required
def delete_custom_image(image_id: int):
    svc.delete(g.api_user, image_id)
    return jsonify(DeletedImage.dump({"deleted": image_id}))
