"""F9 import validator: what a pasted public key line may be, checked against ssh-keygen."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal.services.keyparse import KeyRefused, parse_public_key, ssh_string

KEYS = Path(__file__).resolve().parents[2] / "data" / "keys"
EXPECTED = json.loads((KEYS / "fingerprints.json").read_text())
ACCEPTED = ["ed25519.pub", "ecdsa256.pub", "ecdsa384.pub", "ecdsa521.pub", "rsa3072.pub",
            "sk_ed25519.pub", "sk_ecdsa.pub"]


def pub(name: str) -> str:
    return (KEYS / name).read_text()


def refused(text) -> str:
    with pytest.raises(KeyRefused) as info:
        parse_public_key(text)
    return info.value.code


ED = pub("ed25519.pub").strip()
ED_TYPE, ED_B64, ED_COMMENT = ED.split(maxsplit=2)


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_keys_match_ssh_keygen(name):
    key = parse_public_key(pub(name))
    assert key.fingerprint == EXPECTED[name]["fingerprint"]
    assert key.bits == EXPECTED[name]["bits"]
    # Stored text is the re-serialised key; for these canonical inputs it is the same line.
    assert key.line == pub(name).strip()


def test_security_key_keeps_its_type_and_application():
    key = parse_public_key(pub("sk_ed25519.pub"))
    assert key.key_type == "sk-ssh-ed25519@openssh.com"
    assert key.blob.endswith(ssh_string(b"ssh:")) and key.comment == "yubikey"


@pytest.mark.parametrize("text", [ED_TYPE + " " + ED_B64, f"  {ED}\n", f"{ED}\r\n", f"\t{ED}"])
def test_with_or_without_comment_and_surrounding_blanks(text):
    assert parse_public_key(text).openssh == f"{ED_TYPE} {ED_B64}"


@pytest.mark.parametrize(
    "text, code",
    [
        (pub("rsa2048.pub"), "key_too_small"),
        (pub("dsa.pub"), "dsa_refused"),
        (f"{ED}\nssh-ed25519 {ED_B64} second", "multiple_lines"),
        (f"{ED_TYPE} {ED_B64} comment\nssh-ed25519 {ED_B64}", "multiple_lines"),
        (f"{ED_TYPE} {ED_B64} comment\x00command=\"sh\" {ED}", "multiple_lines"),
        (f"{ED_TYPE} {ED_B64}\rssh-rsa AAAA", "multiple_lines"),
        (f"{ED_TYPE} {ED_B64} c\x1b[2Jx", "control_character"),
        (f"{ED_TYPE} {ED_B64} c\u202ex", "control_character"),
        (f'command="/bin/sh" {ED}', "key_options"),
        (f'from="10.0.0.0/8",no-pty {ED}', "key_options"),
        (f"restrict {ED}", "key_options"),
        (f'environment="A=B" {ED}', "key_options"),
        (f"{ED_TYPE} {ED_B64[:-6]}", "bad_base64"),
        (f"{ED_TYPE} {ED_B64[:-4]}", "invalid_key"),
        (f"{ED_TYPE} {ED_B64[:40]}", "invalid_key"),
        (f"{ED_TYPE} {ED_B64}!!", "bad_base64"),
        (f"ssh-rsa {ED_B64}", "type_mismatch"),
        (f"ecdsa-sha2-nistp256 {ED_B64}", "type_mismatch"),
        (f"ssh-ed25519-cert-v01@openssh.com {ED_B64}", "certificate"),
        (f"ssh-foo {ED_B64}", "unknown_type"),
        ("ssh-ed25519", "invalid_key"),
        ("", "empty"),
        (" \n\t", "empty"),
        (None, "empty"),
        (42, "empty"),
        ("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----", "wrong_format"),
        (f"{ED_TYPE} {ED_B64} " + "c" * 201, "comment_too_long"),
        ("x" * 20000, "too_long"),
    ],
)
def test_refusals(text, code):
    assert refused(text) == code


def _blob_line(*fields: bytes, key_type: str = "ssh-ed25519") -> str:
    blob = b"".join(ssh_string(f) for f in fields)
    return f"{key_type} {base64.b64encode(blob).decode()}"


def test_trailing_bytes_after_the_key_fields_are_refused():
    raw = base64.b64decode(ED_B64)
    smuggled = base64.b64encode(raw + ssh_string(b"extra")).decode()
    assert refused(f"{ED_TYPE} {smuggled}") == "invalid_key"


def test_wrong_curve_and_bad_points_are_refused():
    assert refused(_blob_line(b"ecdsa-sha2-nistp256", b"nistp384", b"\x04" + b"\x01" * 96,
                              key_type="ecdsa-sha2-nistp256")) == "type_mismatch"
    assert refused(_blob_line(b"ecdsa-sha2-nistp256", b"nistp256", b"\x04" + b"\x01" * 64,
                              key_type="ecdsa-sha2-nistp256")) == "invalid_key"
    assert refused(_blob_line(b"ssh-ed25519", b"\x01" * 31)) == "invalid_key"


def test_security_key_application_must_be_ssh():
    raw = base64.b64decode(ED_B64)[4 + 11:]  # the ssh_string(pk) part
    for app in (b"http:evil", b"ssh:\x00x", b"\xff"):
        blob = ssh_string(b"sk-ssh-ed25519@openssh.com") + raw + ssh_string(app)
        line = f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()}"
        assert refused(line) == "invalid_key"


def _private_texts() -> list[str]:
    ed = ed25519.Ed25519PrivateKey.generate()
    rk = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    openssh = ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                               serialization.NoEncryption()).decode()
    pkcs1 = rk.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()
    pkcs8 = rk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
    body = "".join(openssh.splitlines()[1:-1])
    return [openssh, pkcs1, pkcs8, body, f"ssh-ed25519 {body}",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"]


@pytest.mark.parametrize("index", range(6))
def test_private_keys_are_refused_and_not_echoed(index, app):
    text = _private_texts()[index]
    with pytest.raises(KeyRefused) as info:
        parse_public_key(text)
    assert info.value.code == "private_key"
    with app.app_context():
        message = str(info.value.message)
    assert "private key" in message and text.strip()[40:80] not in message


# ---- properties -------------------------------------------------------------------------

def _keys_from_seed(seed: bytes, curve: int) -> str:
    if curve == 0:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    else:
        curves = {1: ec.SECP256R1(), 2: ec.SECP384R1(), 3: ec.SECP521R1()}
        value = int.from_bytes(seed, "big") % (2**250) + 1
        key = ec.derive_private_key(value, curves[curve]).public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


COMMENTS = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), curve=st.integers(0, 3), comment=COMMENTS)
def test_generated_keys_round_trip(seed, curve, comment):
    line = _keys_from_seed(seed, curve)
    key = parse_public_key(f"{line} {comment}")
    assert key.openssh == line and key.comment == comment.strip()
    again = parse_public_key(key.line)
    assert (again.blob, again.fingerprint, again.comment) == (key.blob, key.fingerprint,
                                                              key.comment)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
@example(b"ssh-ed25519 " + ED_B64.encode() + b" x\nssh-ed25519 " + ED_B64.encode())
@example(b"ssh-ed25519 " + ED_B64.encode() + b" x\x00y")
def test_random_bytes_never_crash_the_parser(data):
    text = data.decode("utf-8", "surrogateescape")
    try:
        key = parse_public_key(text)
    except KeyRefused:
        return
    # Whatever is accepted is a single clean line that parses to itself.
    assert "\n" not in key.line and "\x00" not in key.line
    assert parse_public_key(key.line).blob == key.blob


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
@example("\xa0")  # only a no-break space: split() found no type and the page answered 500
@example("\u2003ssh-ed25519")
def test_random_text_is_refused_with_a_code(text):
    try:
        parse_public_key(text)
    except KeyRefused as exc:
        assert exc.code and exc.status == 400


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(1, len(ED_B64) - 1))
def test_every_truncation_is_refused(cut):
    assert refused(f"{ED_TYPE} {ED_B64[:cut]}") in ("bad_base64", "invalid_key")


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(ED)), junk=st.sampled_from(["\n", "\r", "\x00", "\n\n"]),
       tail=st.sampled_from(["", "ssh-ed25519 " + ED_B64, 'command="id"']))
def test_any_line_break_or_nul_anywhere_inside_is_refused(position, junk, tail):
    text = ED[:position] + junk + tail + ED[position:]
    if not text.strip(" \t\r\n") or text.strip(" \t\r\n") == ED:
        return  # only surrounding blanks were added: that is the same single line
    assert refused(text) in ("multiple_lines", "invalid_key", "bad_base64", "unknown_type",
                             "key_options", "empty")


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from(["command=\"x\"", "from=\"*\"", "no-pty", "restrict",
                               "permitopen=\"h:1\"", "tunnel=\"0\"", "cert-authority"]))
def test_any_options_prefix_is_refused(prefix):
    assert refused(f"{prefix} {ED}") == "key_options"
