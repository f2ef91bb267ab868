"""F9 through /api/v1/keys: the private key is in the create response and nowhere else."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from portal.api.openapi import openapi_document
from portal.services import keys
from tests.unit.keys.netsec_support import audit_actions, db_bytes, key_count, pub, secret_parts

ED = pub("ed25519.pub").strip()


def test_create_returns_the_private_key_once(client, bearer, app, all_logs):
    created = client.post("/api/v1/keys", json={"name": "ci"}, headers=bearer)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    body = created.json
    private = serialization.load_ssh_private_key(body["private_key"].encode(), None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    assert body["public_key"] == public and body["type"] == "ssh-ed25519"
    assert body["origin"] == "generated" and body["used_by"] == []

    listed = client.get("/api/v1/keys", headers=bearer).json
    one = client.get(f"/api/v1/keys/{body['id']}", headers=bearer).json
    assert [k["fingerprint"] for k in listed] == [body["fingerprint"]]
    assert "private_key" not in listed[0] and "private_key" not in one
    for part in secret_parts(body["private_key"]):
        assert part.encode() not in db_bytes(app) and part not in all_logs.text


def test_rsa_4096_on_request(client, bearer):
    body = client.post("/api/v1/keys", json={"name": "old-tools", "type": "rsa"},
                       headers=bearer).json
    assert body["type"] == "ssh-rsa" and body["bits"] == 4096
    assert body["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_import_and_delete(client, bearer):
    imported = client.post("/api/v1/keys", json={"name": "sk", "public_key": pub("sk_ecdsa.pub")},
                           headers=bearer)
    assert imported.status_code == 201 and "private_key" not in imported.json
    assert imported.json["type"] == "sk-ecdsa-sha2-nistp256@openssh.com"
    key_id = imported.json["id"]
    assert client.delete(f"/api/v1/keys/{key_id}", headers=bearer).status_code == 204
    assert client.get(f"/api/v1/keys/{key_id}", headers=bearer).status_code == 404
    assert [a for a, _ in audit_actions("key.")] == ["key.import", "key.delete"]


@pytest.mark.parametrize(
    "body, code",
    [
        (None, "invalid_body"),
        ([], "invalid_body"),
        ({}, "invalid_name"),
        ({"name": 5}, "invalid_name"),
        ({"name": "x", "type": "dsa"}, "invalid_type"),
        ({"name": "x", "public_key": 7}, "empty"),
        ({"name": "x", "public_key": f"{ED}\nssh-ed25519 AAAA"}, "multiple_lines"),
        ({"name": "x", "public_key": f"no-pty {ED}"}, "key_options"),
        ({"name": "x", "public_key": pub("rsa2048.pub")}, "key_too_small"),
        ({"name": "x", "public_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl"},
         "private_key"),
        ({"name": "first", "public_key": pub("ecdsa256.pub")}, "duplicate"),
        ({"name": "y", "public_key": ED}, "duplicate_key"),
    ],
)
def test_refusals_have_stable_codes_and_change_nothing(client, bearer, body, code):
    client.post("/api/v1/keys", json={"name": "first", "public_key": ED}, headers=bearer)
    response = client.post("/api/v1/keys", json=body, headers=bearer)
    assert response.status_code == 400 and response.json["error"]["code"] == code
    assert key_count() == 1


def test_another_users_key_is_404(client, bearer, make_user):
    theirs = keys.import_key(make_user("ursula"), "desk", ED)
    assert client.get(f"/api/v1/keys/{theirs.id}", headers=bearer).status_code == 404
    assert client.delete(f"/api/v1/keys/{theirs.id}", headers=bearer).status_code == 404
    assert key_count() == 1


def test_documented_in_openapi():
    paths = openapi_document()["paths"]
    assert {"get", "post"} <= set(paths["/keys"]) and "delete" in paths["/keys/{key_id}"]
