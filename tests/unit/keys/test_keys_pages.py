"""F9 pages: create (private key downloaded once, kept nowhere), import, delete, refusals."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from portal import db
from portal.models import SshKey
from portal.services import keys
from tests.conftest import csrf_from
from tests.unit.keys.netsec_support import (
    audit_actions,
    db_bytes,
    key_count,
    pub,
    secret_parts,
)

ED = pub("ed25519.pub").strip()


def _post(client, path, **data):
    token = csrf_from(client.get("/keys/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def _session_cookie(app, client) -> dict:
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_keys_page_is_in_the_menu_and_lists_nothing_yet(ursula, client):
    page = client.get("/keys/").get_data(as_text=True)
    assert 'href="/keys/"' in page and 'href="/whitelists/"' in page
    assert "No keys yet." in page


def test_create_downloads_the_private_key_once_and_keeps_only_the_public_half(
    ursula, client, app, all_logs
):
    response = _post(client, "/keys/create", name="laptop", key_type="ed25519")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="id_ed25519_laptop"'
    assert response.headers["Cache-Control"] == "no-store"
    private_text = response.get_data(as_text=True)
    assert private_text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(private_text.encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)

    stored = db.session.query(SshKey).one()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    assert stored.public_key == public and stored.origin == "generated"

    leaks = secret_parts(private_text)
    on_disk = db_bytes(app)
    session = repr(_session_cookie(app, client))
    logs = all_logs.text + repr([r.__dict__ for r in all_logs.records])
    listing = client.get("/keys/").get_data(as_text=True)
    for part in leaks:
        assert part.encode() not in on_disk
        assert part not in session and part not in logs and part not in listing
    assert "laptop" in listing and stored.fingerprint in listing and "no sessions" in listing
    assert "it will not be offered again" in listing  # the flash, shown once afterwards
    assert client.get("/keys/create").status_code == 405  # no way to fetch it again
    assert audit_actions("key.") == [
        ("key.create", {"name": "laptop", "type": "ssh-ed25519",
                        "fingerprint": stored.fingerprint}),
    ]


def test_public_key_download(ursula, client):
    _post(client, "/keys/import", name="desk", public_key=ED)
    key = db.session.query(SshKey).one()
    response = client.get(f"/keys/{key.id}/public")
    assert response.get_data(as_text=True) == ED + "\n"
    assert 'filename="id_ed25519_desk.pub"' in response.headers["Content-Disposition"]


def test_import_stores_the_reserialised_key_and_records_it(ursula, client):
    pasted = "  " + pub("ecdsa384.pub").replace(" two", "  two") + "\n"
    response = _post(client, "/keys/import", name="work", public_key=pasted)
    assert response.status_code == 302
    key = db.session.query(SshKey).one()
    assert key.public_key == " ".join(pub("ecdsa384.pub").split()[:2])
    assert key.comment == "two words comment" and key.origin == "imported"
    page = client.get("/keys/").get_data(as_text=True)
    assert "Key work imported" in page and "ECDSA P-384" in page
    assert audit_actions("key.")[0][0] == "key.import"


def test_pasted_private_key_is_refused_and_found_nowhere(ursula, client, app, all_logs):
    secret = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()
    response = _post(client, "/keys/import", name="oops", public_key=secret)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This is a private key." in page
    assert key_count() == 0 and audit_actions("key.") == []
    on_disk = db_bytes(app)
    logs = all_logs.text + repr([r.__dict__ for r in all_logs.records])
    for part in secret_parts(secret):
        assert part.encode() not in on_disk and part not in logs and part not in page
        assert part not in repr(_session_cookie(app, client))


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("", ED, "A name is 1–64 characters."),
        ("   ", ED, "A name is 1–64 characters."),
        ("x" * 65, ED, "A name is 1–64 characters."),
        ("bad\nname", ED, "control characters"),
        ("k", f"{ED}\nssh-ed25519 {ED.split()[1]}", "exactly one key on one line"),
        ("k", f'command="/bin/sh" {ED}', "Key options"),
        ("k", ED[:60], "damaged or truncated"),
        ("k", pub("dsa.pub"), "DSA keys"),
        ("k", pub("rsa2048.pub"), "at least 3072 bits"),
        ("k", "ssh-rsa " + ED.split()[1], "does not match"),
    ],
)
def test_refused_imports_change_nothing(ursula, client, name, text, message):
    _post(client, "/keys/import", name="first", public_key=pub("ecdsa256.pub"))
    before = key_count()
    response = _post(client, "/keys/import", name=name, public_key=text)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert key_count() == before and len(audit_actions("key.")) == 1


def test_duplicate_name_and_duplicate_fingerprint_are_refused(ursula, client):
    _post(client, "/keys/import", name="desk", public_key=ED)
    for name, text, message in [
        ("desk", pub("ecdsa256.pub"), "You already have a key named desk."),
        ("other", ED.rsplit(" ", 1)[0] + " another comment", "You already have this key"),
    ]:
        response = _post(client, "/keys/import", name=name, public_key=text)
        assert message in client.get(response.headers["Location"]).get_data(as_text=True)
    assert key_count() == 1


def test_the_same_key_may_belong_to_two_users(make_user, client, auth):
    make_user("ursula")
    other = make_user("victor")
    keys.import_key(other, "desk", ED)
    auth.login()
    _post(client, "/keys/import", name="desk", public_key=ED)
    assert key_count() == 2


def test_create_refusals_change_nothing(ursula, client):
    _post(client, "/keys/create", name="laptop")
    for data in [{"name": "laptop"}, {"name": ""}, {"name": "x", "key_type": "dsa"}]:
        response = _post(client, "/keys/create", **data)
        assert response.status_code == 302 and "Content-Disposition" not in response.headers
    assert key_count() == 1


def test_missing_csrf_token_changes_nothing(ursula, client):
    client.post("/keys/create", data={"name": "laptop"})
    client.post("/keys/import", data={"name": "desk", "public_key": ED})
    assert key_count() == 0


def test_delete_asks_first_then_deletes_and_records(ursula, client):
    _post(client, "/keys/import", name="desk", public_key=ED)
    key = db.session.query(SshKey).one()
    confirm = client.get(f"/keys/{key.id}/delete").get_data(as_text=True)
    assert "Delete key desk?" in confirm and "No session uses this key." in confirm
    assert key_count() == 1
    response = client.post(f"/keys/{key.id}/delete", data={"csrf_token": csrf_from(confirm)})
    assert "Key desk deleted." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert key_count() == 0
    assert audit_actions("key.")[-1] == (
        "key.delete", {"name": "desk", "type": "ssh-ed25519", "fingerprint": key.fingerprint})


def test_another_users_key_is_not_found(make_user, client, auth):
    make_user("ursula")
    theirs = keys.import_key(make_user("victor"), "desk", ED)
    auth.login()
    assert client.get(f"/keys/{theirs.id}/delete").status_code == 404
    assert client.get(f"/keys/{theirs.id}/public").status_code == 404
    token = csrf_from(client.get("/keys/").get_data(as_text=True))
    assert client.post(f"/keys/{theirs.id}/delete", data={"csrf_token": token}).status_code == 404
    assert key_count() == 1


def test_login_required(client):
    assert "/login" in client.get("/keys/").headers["Location"]
    assert client.post("/keys/create", data={"name": "x"}).status_code in (302, 400)
    assert key_count() == 0


def test_authorized_keys_line_carries_the_from_option_and_no_comment(make_user):
    key = keys.import_key(make_user("ursula"), "desk", ED)
    assert keys.authorized_keys_line(key) == " ".join(ED.split()[:2])
    line = keys.authorized_keys_line(key, 'from="10.0.0.0/8"')
    assert line == 'from="10.0.0.0/8" ' + " ".join(ED.split()[:2])
    assert keys.key_usage(key) == []
