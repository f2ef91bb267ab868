"""/api/v1/keys: list, create (the private key is in that one response), import, delete."""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.netsec_openapi import register
from portal.api.schemas.netsec import Key, NewKey
from portal.services import ServiceError, keys

register()


def key_json(key) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "type": key.key_type,
        "bits": key.bits,
        "fingerprint": key.fingerprint,
        "public_key": key.public_key,
        "comment": key.comment,
        "origin": key.origin,
        "created_at": key.created_at.isoformat() + "Z",
        "used_by": [str(getattr(s, "name", s)) for s in keys.key_usage(key)],
    }


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


@bp.get("/keys")
@token_required
def list_keys():
    return jsonify(Key.dump_all(key_json(k) for k in keys.list_keys(g.api_user)))


@bp.post("/keys")
@token_required
def create_or_import_key():
    """With `public_key`: import it. Without: generate a pair (`type`: ed25519 or rsa)."""
    body = _body()
    if "public_key" in body:
        key = keys.import_key(g.api_user, body.get("name"), body["public_key"])
        return jsonify(NewKey.dump(key_json(key))), 201
    key, private_key = keys.create_key(
        g.api_user, body.get("name"), body.get("type", "ed25519")
    )
    response = jsonify(NewKey.dump({**key_json(key), "private_key": private_key}))
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.get("/keys/<int:key_id>")
@token_required
def get_key(key_id: int):
    return jsonify(Key.dump(key_json(keys.get_key(g.api_user, key_id))))


@bp.delete("/keys/<int:key_id>")
@token_required
def delete_key(key_id: int):
    keys.delete_key(g.api_user, key_id)
    return "", 204
