from flask import g, jsonify

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.errors import error_response  # also registers the handlers
from portal.api.openapi import openapi_document
from portal.api.schemas.account import Me, Token
from portal.api.schemas.cluster import Cluster
from portal.services import audit, cluster, tokens, users


def _user_json(user) -> dict:
    return {
        "username": user.username,
        "unix_user": user.unix_user,
        "display_name": user.display_name,
        "email": user.email,
        "is_admin": user.is_admin,
        "theme": user.theme,
        "locale": user.locale,
        "projects": [
            {"account": m.project.account, "name": m.project.name, "role": m.role.value}
            for m in users.user_projects(user)
        ],
    }


def _token_json(record) -> dict:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "scope": record.scope,
        "created_at": record.created_at.isoformat() + "Z",
        "last_used_at": record.last_used_at.isoformat() + "Z" if record.last_used_at else None,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/me")
@token_required
def me():
    return jsonify(Me.dump({**_user_json(g.api_user), "token_scope": g.api_token.scope}))


@bp.get("/cluster")
@token_required
def cluster_state():
    """The cached cluster view, and whether the worker that fills it is late (issue #13)."""
    from portal.services import heartbeat

    beat = heartbeat.status()
    worker = None if beat is None else {k: beat[k] for k in (
        "reported", "late", "beat_at", "age_seconds", "interval", "late_after")}
    return jsonify(Cluster.dump({**cluster.cached_view(), "worker": worker}))


@bp.get("/tokens")
@token_required
def list_tokens():
    return jsonify(Token.dump_all(_token_json(t) for t in tokens.list_tokens(g.api_user)))


@bp.post("/tokens")
@token_required
def create_token():
    """Refused for every token, whatever its scope: a stolen token must not be able to mint
    itself a successor that outlives its revocation (issue #12 finding 11)."""
    audit.record("token.create_refused", f"token:{g.api_token.id}", via="api")
    return error_response(
        "token_minting_forbidden",
        "A token cannot create tokens. Create one on the profile page or with "
        "`portal token create` on the portal host.", 403)


@bp.delete("/tokens/<int:token_id>")
@token_required
def revoke_token(token_id: int):
    tokens.revoke_token(g.api_user, token_id)
    return "", 204
