"""SSH keys (F9): generate a pair (private half handed over once), import, list, delete.

The private key of a generated pair exists only in the return value of `create_key`: it
is not stored, logged, audited or put in the (cookie) session. Imported text goes through
`keyparse.parse_public_key`, which refuses private keys, options and smuggled lines; what
is stored is the re-serialised public key.

Sessions (F3) write `authorized_keys_line(key, whitelists.sshd_from_option(...))` for each
chosen key into the session's authorized_keys.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import SshKey, User
from portal.services import NotFound, ServiceError, audit
from portal.services.core.in_use import sessions_using_key
from portal.services.keyparse import KeyRefused, ParsedKey, parse_public_key
from portal.services.names import clean_name

GENERATED_TYPES = {"ed25519": "Ed25519", "rsa": "RSA 4096"}
RSA_GENERATED_BITS = 4096
MAX_KEYS_PER_USER = 100

__all__ = [
    "GENERATED_TYPES",
    "KeyRefused",
    "authorized_keys_line",
    "create_key",
    "delete_key",
    "get_key",
    "import_key",
    "key_usage",
    "list_keys",
    "private_key_filename",
    "type_label",
]


def list_keys(user: User) -> list[SshKey]:
    stmt = select(SshKey).where(SshKey.user_id == user.id).order_by(SshKey.created_at, SshKey.id)
    return list(db.session.scalars(stmt))


def get_key(user: User, key_id: int) -> SshKey:
    """The user's own key; raises NotFound for a missing key or someone else's."""
    key = db.session.get(SshKey, key_id)
    if key is None or key.user_id != user.id:
        raise NotFound(_l("No such key."))
    return key


def key_usage(key: SshKey) -> list:
    """Open sessions whose authorized_keys hold `key`, for "used by" columns and delete
    confirmations (each has a `name`). Raises nothing.
    """
    return sessions_using_key(key)


def import_key(user: User, name: str, text: str) -> SshKey:
    """Store the public key in `text` under `name`.

    Raises ServiceError: invalid_name, duplicate (name), duplicate_key (same fingerprint),
    too_many, or any KeyRefused code from `keyparse.parse_public_key`.
    """
    name = _check_name(user, name)
    parsed = parse_public_key(text)
    key = _store(user, name, parsed, "imported")
    audit.record(
        "key.import", f"key:{key.id}", actor=user, name=key.name, type=key.key_type,
        fingerprint=key.fingerprint,
    )
    return key


def create_key(user: User, name: str, key_type: str = "ed25519") -> tuple[SshKey, str]:
    """Generate a pair; store the public half and return (key, private key in OpenSSH format).

    The private key is returned exactly once and kept nowhere. Raises ServiceError:
    invalid_name, duplicate, too_many or invalid_type.
    """
    if key_type not in GENERATED_TYPES:
        raise ServiceError(
            _l("Choose Ed25519 or RSA 4096 for a new key."), "invalid_type"
        )
    name = _check_name(user, name)
    if key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_GENERATED_BITS)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    public_line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    parsed = parse_public_key(f"{public_line} {_comment_for(user, name)}")
    key = _store(user, name, parsed, "generated")
    audit.record(
        "key.create", f"key:{key.id}", actor=user, name=key.name, type=key.key_type,
        fingerprint=key.fingerprint,
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return key, pem.decode()


def delete_key(user: User, key_id: int) -> list:
    """Delete the user's key; returns the sessions that still used it (see key_usage).

    Running sessions keep the authorized_keys they started with. Raises NotFound.
    """
    key = get_key(user, key_id)
    usage = key_usage(key)
    details = {"name": key.name, "type": key.key_type, "fingerprint": key.fingerprint}
    if usage:
        details["sessions"] = [str(getattr(s, "name", s)) for s in usage]
    db.session.delete(key)
    audit.record("key.delete", f"key:{key_id}", actor=user, commit=False, **details)
    db.session.commit()
    return usage


def authorized_keys_line(key: SshKey, from_option: str = "") -> str:
    """One authorized_keys line: `[from="…" ]TYPE BASE64 [COMMENT]`.

    The stored fields were validated on the way in (no line breaks, no options), and the
    comment is dropped here so nothing a user typed reaches the file but the key itself.
    """
    prefix = f"{from_option} " if from_option else ""
    return f"{prefix}{key.public_key}"


TYPE_LABELS = {
    "ssh-ed25519": "Ed25519",
    "ssh-rsa": "RSA",
    "ecdsa-sha2-nistp256": "ECDSA P-256",
    "ecdsa-sha2-nistp384": "ECDSA P-384",
    "ecdsa-sha2-nistp521": "ECDSA P-521",
    "sk-ssh-ed25519@openssh.com": "Ed25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK P-256",
}


def type_label(key: SshKey) -> str:
    """`Ed25519`, `RSA 4096`, `ECDSA-SK P-256`… for lists."""
    label = TYPE_LABELS.get(key.key_type, key.key_type)
    return f"{label} {key.bits}" if key.key_type == "ssh-rsa" else label


def private_key_filename(key: SshKey) -> str:
    """A safe download name such as `id_ed25519_laptop` (ASCII, no path separators)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key.name).strip("._") or str(key.id)
    short = "ed25519" if key.key_type == "ssh-ed25519" else "rsa"
    return f"id_{short}_{stem[:40]}"


def _check_name(user: User, name: str) -> str:
    name = clean_name(name)
    if db.session.scalar(select(SshKey.id).where(SshKey.user_id == user.id, SshKey.name == name)):
        raise ServiceError(_l("You already have a key named %(name)s.", name=name), "duplicate")
    return name


def _store(user: User, name: str, parsed: ParsedKey, origin: str) -> SshKey:
    existing = db.session.scalar(
        select(SshKey).where(SshKey.user_id == user.id, SshKey.fingerprint == parsed.fingerprint)
    )
    if existing is not None:
        raise ServiceError(
            _l("You already have this key, named %(name)s.", name=existing.name),
            "duplicate_key",
        )
    if len(list_keys(user)) >= MAX_KEYS_PER_USER:
        raise ServiceError(
            _l("You have %(max)d keys already; delete one first.", max=MAX_KEYS_PER_USER),
            "too_many",
        )
    key = SshKey(
        user_id=user.id,
        name=name,
        key_type=parsed.key_type,
        bits=parsed.bits,
        public_key=parsed.openssh,
        comment=parsed.comment,
        fingerprint=parsed.fingerprint,
        origin=origin,
    )
    db.session.add(key)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request stored the same name or key first
        db.session.rollback()
        raise ServiceError(_l("You already have this key or a key with this name."),
                           "duplicate") from None
    return key


def _comment_for(user: User, name: str) -> str:
    # A comment lets people tell keys apart in their agents; keep it to safe characters.
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "-", f"{user.username}@portal-{name}")
    return safe[:100]
