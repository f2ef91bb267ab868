"""/api/v1 for F3 sessions and the images they start (public images: F13).

The same services as the pages and the CLI. POST /sessions with "members" is a manager's
batch create: {"members": {"<username>": <count>, ...}} plus the usual fields.
"""

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.errors import error_response
from portal.api.schemas.sessions import Image, RegisteredImage, Session
from portal.api.sessions_openapi import register
from portal.services import ServiceError, public_images, sessionbatch
from portal.services import sessions as svc
from portal.services.images import available_images
from portal.services.sessiondisplay import session_json

register()


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


def image_json(image) -> dict:
    return {"name": image.key, "display_name": image.name, "type": image.type,
            "framework": image.framework, "services": list(image.services),
            "auth": list(image.auth)}


def image_row_json(row) -> dict:
    return {"id": row.id, "name": row.name, "display_name": row.display_name,
            "path": row.path, "framework": row.framework, "description": row.description,
            "services": list(row.services or []), "auth": list(row.auth_methods or []),
            "shell": row.shell, "enabled": row.enabled}


@bp.get("/sessions")
@token_required
def list_sessions():
    return jsonify(Session.dump_all(session_json(s) for s in svc.visible_sessions(g.api_user)))


@bp.post("/sessions")
@token_required
def create_session():
    body = _body()
    if "members" in body:
        created = sessionbatch.batch_create(g.api_user, body, body.get("members"))
        return jsonify(Session.dump_all(session_json(s) for s in created)), 201
    session = svc.create_session(g.api_user, body)
    if svc.submission_uncertain(session):  # on record, never submitted twice (issue #13)
        return error_response("slurm_unavailable", svc.uncertain_message(session), 503,
                              details={"outage": "controller", "session_id": session.id},
                              session=Session.dump(session_json(session)))
    return jsonify(Session.dump(session_json(session, connection=True))), 201


@bp.get("/sessions/<int:session_id>")
@token_required
def get_session(session_id: int):
    session = svc.get_session(g.api_user, session_id, manage=True)
    if session.user_id == g.api_user.id:
        svc.probe(session)
    return jsonify(Session.dump(session_json(session,
                                             connection=session.user_id == g.api_user.id)))


@bp.delete("/sessions/<int:session_id>")
@token_required
def delete_session(session_id: int):
    session = svc.delete_session(g.api_user, session_id)
    return jsonify(Session.dump(session_json(session))), 202


@bp.post("/sessions/<int:session_id>/accept")
@token_required
def accept_session(session_id: int):
    """The owner accepts a session a manager asked for (issue #12): submitted now."""
    from portal.services import sessionaccept

    session = sessionaccept.accept(g.api_user, session_id)
    return jsonify(Session.dump(session_json(session, connection=True)))


@bp.post("/sessions/<int:session_id>/extend")
@token_required
def extend_session(session_id: int):
    """The owner extends a running session by {"hours": N} (issue #17): 409 names the cap."""
    from portal.services import extend

    session = extend.extend_session(g.api_user, session_id, _body().get("hours"))
    return jsonify(Session.dump(session_json(session, connection=True)))


@bp.post("/sessions/<int:session_id>/decline")
@token_required
def decline_session(session_id: int):
    """The owner declines a session a manager asked for: nothing was ever submitted."""
    from portal.services import sessionaccept

    return jsonify(Session.dump(session_json(sessionaccept.decline(g.api_user, session_id))))


@bp.get("/images")
@token_required
def list_images():
    return jsonify(Image.dump_all(image_json(i) for i in available_images(g.api_user)))


@bp.post("/images")
@token_required
def register_image():
    body = _body()
    if "session_id" in body:  # F4: commit a session to a custom image
        from portal.api.custom_images import commit_from_body

        return commit_from_body(g.api_user, body)
    if not g.api_user.is_admin:
        return error_response("forbidden", "Platform administrators only.", 403)
    fields = ("framework", "display_name", "description", "services", "auth_methods", "shell")
    row = public_images.register_image(
        body.get("name"), body.get("path"), actor=g.api_user,
        **{k: body[k] for k in fields if k in body})
    return jsonify(RegisteredImage.dump(image_row_json(row))), 201
