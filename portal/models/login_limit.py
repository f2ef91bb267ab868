"""Failed (and in-flight) login attempts: the login limit's counters, shared by every
gunicorn worker and host through the database (issue #12 finding 5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base


class LoginAttempt(Base):
    """One password check, counted against its account name and its client address.

    A row is written before the password is checked and removed again when the check
    succeeds or the attempt is refused, so what stays are failures; rows older than the
    longest window are pruned on the next attempt (portal.services.login_limit).
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    username: Mapped[str] = mapped_column(String(64))  # as typed: unknown names count too
    address: Mapped[str] = mapped_column(String(45))
