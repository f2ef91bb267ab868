"""Account pages (F11, F12): the cloud-platform activation state, the profile's contact line
and the admin-edited contact text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class Activation(Base):
    """The last check of a user's cluster side (one row per user, kept as a cache).

    `activated_at` is set the first time every check passed (or by the 0008 migration for
    users who existed before activation did) and is cleared when a later check fails.
    """

    __tablename__ = "activations"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # [{"item": "unix"|"association"|"workspace", "target": str, "ok": bool, "detail": str}]
    checks: Mapped[list] = mapped_column(JSON, default=list)


class UserContact(Base):
    """The profile's free-form contact line (phone, office, …)."""

    __tablename__ = "user_contacts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    contact: Mapped[str] = mapped_column(String(255), default="")


class SiteText(Base):
    """Texts admins edit (the contact-admin page is `key="contact"`); plain text."""

    __tablename__ = "site_texts"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
