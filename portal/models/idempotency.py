"""Idempotency keys (issue #13): a client's retry of a POST gets the first answer back.

One row per (user, key): what was asked (method, path, a hash of the body), the Slurm-side
object it created once that is on record (`resource`, written in the same transaction as
the object itself), and the answer (status and body, secrets removed) once it is known.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
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
