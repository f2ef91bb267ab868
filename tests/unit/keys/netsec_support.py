"""Shared by the key and whitelist tests: a logged-in user, a bearer token, secret hunting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import AuditEvent, SshKey
from portal.services import tokens

KEYS = Path(__file__).resolve().parents[2] / "data" / "keys"


def pub(name: str) -> str:
    return (KEYS / name).read_text()


@pytest.fixture
def ursula(make_user, auth):
    user = make_user("ursula")
    auth.login()
    return user


@pytest.fixture
def bearer(make_user):
    user = make_user("victor")
    _, plaintext = tokens.create_token(user, "cli")
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def db_bytes(app) -> bytes:
    """Everything SQLite has on disk for this test's database (main file and WAL)."""
    path = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def key_count() -> int:
    return db.session.scalar(select(func.count()).select_from(SshKey))


def audit_actions(prefix: str = "") -> list[tuple[str, dict]]:
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(e.action, e.details) for e in events if e.action.startswith(prefix)]


def secret_parts(private_key: str) -> list[str]:
    """Pieces of a private key's body worth searching for (any one would be a leak)."""
    body = [line for line in private_key.splitlines() if line and not line.startswith("---")]
    return [line[:40] for line in body[1:-1] if len(line) >= 40] or [body[0][:40]]
