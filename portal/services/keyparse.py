"""Strict parsing of one pasted OpenSSH public key line (F9), with no database in sight.

`cryptography`'s `load_ssh_public_key` is lenient in ways that matter for authorized_keys:
it accepts `<key> comment\\nssh-ed25519 …` (a second key smuggled after a line break), NULs
in the comment, and it silently turns an `sk-` security key into a plain one. So the line
is taken apart here first — one line, `TYPE BASE64 [COMMENT]`, no options, strict base64,
a wire blob whose fields are exactly those of TYPE and nothing after them — and only the
key material is handed to `cryptography` to check (curve points, RSA numbers). What is
stored is re-serialised from the parsed key, never the pasted text.

Every refusal is a `KeyRefused` (a ServiceError) with a stable code; the message never
quotes the pasted text, because that text may be someone's private key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask_babel import lazy_gettext as _l

from portal.services import ServiceError

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": "nistp256",
    "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521",
}
KEY_TYPES = (ED25519, RSA, *ECDSA_CURVES, SK_ED25519, SK_ECDSA)
RSA_MIN_BITS = 3072
RSA_MAX_BITS = 16384
MAX_TEXT = 16384  # a 16384-bit RSA line is ~2.8k characters
COMMENT_MAX = 200
# What a private key looks like in the formats people paste: PEM/OpenSSH armour, PuTTY,
# and the bare base64 of "openssh-key-v1" (the body of an OpenSSH private key).
PRIVATE_MARKERS = ("PRIVATE KEY", "PuTTY-User-Key-File", "openssh-key-v1", "b3BlbnNzaC1rZXktdjE")
# authorized_keys options that may precede a key; a pasted line must not carry any.
OPTION_WORDS = (
    "agent-forwarding", "cert-authority", "command", "environment", "expiry-time", "from",
    "no-agent-forwarding", "no-port-forwarding", "no-pty", "no-user-rc", "no-x11-forwarding",
    "permitlisten", "permitopen", "port-forwarding", "principals", "pty", "no-touch-required",
    "verify-required", "restrict", "tunnel", "user-rc", "x11-forwarding",
)


class KeyRefused(ServiceError):
    """A pasted key that cannot be accepted; `code` says why."""


@dataclass(frozen=True)
class ParsedKey:
    key_type: str
    blob: bytes  # the canonical wire encoding
    bits: int
    comment: str

    @property
    def openssh(self) -> str:
        """`TYPE BASE64`, as authorized_keys and ssh-keygen write it."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode()}"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def line(self) -> str:
        return f"{self.openssh} {self.comment}" if self.comment else self.openssh


def fingerprint(blob: bytes) -> str:
    """The SHA256 fingerprint exactly as `ssh-keygen -l` prints it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


class _Reader:
    """Reads RFC 4251 `string`s; any overrun is a malformed key."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def string(self) -> bytes:
        if len(self.data) - self.pos < 4:
            raise _malformed()
        size = int.from_bytes(self.data[self.pos : self.pos + 4], "big")
        self.pos += 4
        if size > len(self.data) - self.pos:
            raise _malformed()
        value = self.data[self.pos : self.pos + size]
        self.pos += size
        return value

    def rest(self) -> bytes:
        return self.data[self.pos :]


def _malformed() -> KeyRefused:
    return KeyRefused(
        _l("The key data is damaged or truncated. Copy the whole line from your .pub file."),
        "invalid_key",
    )


def parse_public_key(text: object) -> ParsedKey:
    """Parse one `TYPE BASE64 [COMMENT]` line (surrounding blanks and one newline allowed).

    Raises KeyRefused with code private_key, too_long, empty, wrong_format, multiple_lines,
    control_character, key_options, dsa_refused, certificate, unknown_type, bad_base64,
    type_mismatch, invalid_key, key_too_small, key_too_large or comment_too_long.
    """
    if not isinstance(text, str):
        raise KeyRefused(_l("Paste the public key as text."), "empty")
    if any(marker in text for marker in PRIVATE_MARKERS):
        raise KeyRefused(
            _l(
                "This is a private key. Never paste a private key anywhere: import the "
                "public key (the .pub file) instead. Nothing was stored."
            ),
            "private_key",
        )
    if len(text) > MAX_TEXT:
        raise KeyRefused(_l("That is too long for a public key."), "too_long")
    body = text.strip(" \t\r\n")
    if not body:
        raise KeyRefused(_l("Paste a public key."), "empty")
    if "BEGIN" in body and "----" in body:
        raise KeyRefused(
            _l("Paste the key in OpenSSH's one-line format (the content of the .pub file)."),
            "wrong_format",
        )
    _check_characters(body)
    parts = body.split(maxsplit=2)
    if not parts:  # only Unicode blanks, e.g. a no-break space (found by the fuzz test)
        raise KeyRefused(_l("Paste a public key."), "empty")
    if parts[0] not in KEY_TYPES:
        raise _type_refusal(parts[0], body)
    if len(parts) < 2:
        raise _malformed()
    comment = parts[2].strip() if len(parts) > 2 else ""
    if len(comment) > COMMENT_MAX:
        raise KeyRefused(
            _l("The key's comment is longer than %(max)d characters.", max=COMMENT_MAX),
            "comment_too_long",
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyRefused(
            _l("The key's base64 text is damaged or truncated."), "bad_base64"
        ) from None
    blob, bits = _canonical_blob(parts[0], blob)
    return ParsedKey(parts[0], blob, bits, comment)


def _check_characters(body: str) -> None:
    if any(ch in body for ch in "\r\n\x00"):
        raise KeyRefused(
            _l("Paste exactly one key on one line; the text holds a line break or NUL."),
            "multiple_lines",
        )
    for ch in body:
        if ch != "\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise KeyRefused(
                _l("The text holds control characters; paste the key line only."),
                "control_character",
            )


def _type_refusal(first: str, body: str) -> KeyRefused:
    words = body.split()
    if first == "ssh-dss":
        return KeyRefused(_l("DSA keys are too weak and are refused."), "dsa_refused")
    if first.endswith("-cert-v01@openssh.com"):
        return KeyRefused(_l("Certificates are not accepted; paste the key."), "certificate")
    word = first.split("=", 1)[0].lower()
    if "=" in first or word in OPTION_WORDS or any(w in KEY_TYPES for w in words[1:]):
        return KeyRefused(
            _l("Key options (such as command=\"…\" or from=\"…\") are not accepted; "
               "paste the key only, starting with its type."),
            "key_options",
        )
    return KeyRefused(
        _l("Unknown key type. Accepted: %(types)s.", types=", ".join(KEY_TYPES)),
        "unknown_type",
    )


def _canonical_blob(key_type: str, blob: bytes) -> tuple[bytes, int]:
    """Check the wire fields of `key_type` and return (canonical blob, bits)."""
    reader = _Reader(blob)
    if reader.string() != key_type.encode():
        raise KeyRefused(
            _l("The key's type name does not match the key data."), "type_mismatch"
        )
    if key_type in (ED25519, SK_ED25519):
        plain_type, fields = ED25519, [reader.string()]
    elif key_type == RSA:
        plain_type, fields = RSA, [reader.string(), reader.string()]
    else:
        plain_type = "ecdsa-sha2-nistp256" if key_type == SK_ECDSA else key_type
        curve = reader.string()
        if curve.decode("ascii", "replace") != ECDSA_CURVES[plain_type]:
            raise KeyRefused(
                _l("The key's curve does not match its type."), "type_mismatch"
            )
        fields = [curve, reader.string()]
    application = reader.string() if key_type.startswith("sk-") else None
    if reader.rest():
        raise _malformed()
    plain = ssh_string(plain_type.encode()) + b"".join(ssh_string(f) for f in fields)
    canonical, bits = _checked_key(plain_type, plain)
    if application is None:
        return canonical, bits
    _check_application(application)
    tail = canonical[4 + len(plain_type) :]  # the key fields after the type string
    return ssh_string(key_type.encode()) + tail + ssh_string(application), bits


def _checked_key(plain_type: str, plain: bytes) -> tuple[bytes, int]:
    """Let `cryptography` validate the key material; return its canonical blob and bits."""
    line = plain_type.encode() + b" " + base64.b64encode(plain)
    try:
        key = serialization.load_ssh_public_key(line)
    except (ValueError, UnsupportedAlgorithm, TypeError):
        raise _malformed() from None
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < RSA_MIN_BITS:
            raise KeyRefused(
                _l("RSA keys need at least %(bits)d bits; this one has %(has)d.",
                   bits=RSA_MIN_BITS, has=bits),
                "key_too_small",
            )
        if bits > RSA_MAX_BITS:
            raise KeyRefused(
                _l("RSA keys may have at most %(bits)d bits.", bits=RSA_MAX_BITS),
                "key_too_large",
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        bits = 256
    else:  # pragma: no cover - load_ssh_public_key returned a type we did not ask for
        raise _malformed()
    text = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(text.split()[1]), bits


def _check_application(application: bytes) -> None:
    try:
        text = application.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed() from None
    if not text.startswith("ssh:") or len(text) > 256 or not text.isprintable():
        raise _malformed()
