"""Idempotency keys (issue #13): a client's retry of a POST gets the first answer back.

One row per (user, key): what was asked (method, path, a hash of the body), the Slurm-side
object it created once that is on record (`resource`, written in the same transaction as
the object itself), and the answer (status and body, secrets removed) once it is known.
While it runs, the claim names its process (host, PID, start time: portal/services/procid.py)
so that a retry can tell a request still at work from one whose process was killed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    resource: Mapped[str | None] = mapped_column(String(64))  # e.g. "job:12"
    status: Mapped[int | None] = mapped_column(Integer)  # None: the first request still runs
    response: Mapped[str | None] = mapped_column(Text)  # the JSON body as sent
    # the process working on it (issue #13): "<hostname> <boot id> <pid namespace>", PID and
    # its start time in clock ticks; a retry takes over at once when that process is gone
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_started: Mapped[int | None] = mapped_column(BigInteger)
