"""The login limit: failed password checks per account and per client address, counted in
the database so every gunicorn worker (and every portal host on one PostgreSQL) shares them.

Why not Flask-Limiter: its storage here was `memory://`, one budget per worker process
(with 2 workers, 14 wrong passwords then the right one got in), and it counted per address
only, so every new source address brought a fresh budget (issue #12 finding 5). Its shared
backends are Redis, Memcached or MongoDB, none of which a portal host runs; the portal's
own database already is shared by all workers, on SQLite and PostgreSQL alike.

How: an attempt first writes its row and commits, then counts the rows in each window
(sliding: `LOGIN_RATE_LIMIT` per address, default 10 per minute, and
`LOGIN_ACCOUNT_RATE_LIMIT` per account name, default 10 per 15 minutes). Over either limit,
the row is removed again and the attempt is refused before the password is looked at.
Because the row is committed before the count, attempts racing in several workers see each
other: at most `limit` password checks fit in a window, however many workers there are.
A success removes its row and the account's earlier failures; a failure's row stays.
Refused attempts are not counted, so a client that keeps hammering is not locked longer.

The account limit counts the name as typed, existing or not, so it neither reveals which
accounts exist nor spares unknown ones. Its cost: whoever knows a user name can keep that
account's password login locked (sessions already open and API tokens keep working); the
audit log shows every refusal (`auth.login_limited`) with its source address.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from limits import parse
from sqlalchemy import delete, func, select

from portal import db
from portal.models.login_limit import LoginAttempt

DEFAULT_ADDRESS_LIMIT = "10 per minute"
DEFAULT_ACCOUNT_LIMIT = "10 per 15 minutes"


@dataclass(frozen=True)
class Refusal:
    """Which limit refused the attempt, how many failures it saw, and when to retry."""

    limit: str  # "account" or "address"
    failures: int
    retry_after: int  # seconds


def _limit(key: str, default: str) -> tuple[int, timedelta]:
    """(count, window) from a config value such as "10 per 15 minutes" (limits' syntax)."""
    item = parse(str(current_app.config.get(key) or default))
    return int(item.amount), timedelta(seconds=item.get_expiry())


def limits() -> dict[str, tuple[int, timedelta]]:
    return {"address": _limit("LOGIN_RATE_LIMIT", DEFAULT_ADDRESS_LIMIT),
            "account": _limit("LOGIN_ACCOUNT_RATE_LIMIT", DEFAULT_ACCOUNT_LIMIT)}


def begin(username: str, address: str) -> LoginAttempt | Refusal:
    """Claim one password check for `username` from `address`, or say why not."""
    now = db.utcnow()
    rules = limits()
    oldest = now - max(window for _count, window in rules.values())
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < oldest))
    attempt = LoginAttempt(at=now, username=(username or "")[:64], address=address)
    db.session.add(attempt)
    db.session.commit()
    columns = {"account": LoginAttempt.username == attempt.username,
               "address": LoginAttempt.address == address}
    for name in ("account", "address"):
        count, window = rules[name]
        since = now - window
        seen, first = db.session.execute(
            select(func.count(LoginAttempt.id), func.min(LoginAttempt.at))
            .where(columns[name], LoginAttempt.at > since)
        ).one()
        if seen > count:
            finish(attempt, ok=False, refused=True)
            return Refusal(name, seen - 1, _retry_after(first, window, now))
    return attempt


def finish(attempt: LoginAttempt, *, ok: bool, refused: bool = False) -> None:
    """Settle a claimed attempt: a failure stays counted, a success or refusal does not.

    A success also forgets the account's earlier failures (the owner got in), never the
    address's: another account's password does not buy more guesses from that address.
    """
    if ok:
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.username == attempt.username))
    elif refused:
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
    else:
        return
    db.session.commit()


def _retry_after(first: datetime | None, window: timedelta, now: datetime) -> int:
    if first is None:
        return math.ceil(window.total_seconds())
    return max(1, math.ceil((first + window - now).total_seconds()))
