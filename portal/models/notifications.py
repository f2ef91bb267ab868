"""Notifications (issue #17, item 3): what each user wants, and what was sent.

`NotificationSetting` is one row per user: the kinds they chose, whether e-mail (to their
profile's address) and their webhook are on. `NotificationSent` is the idempotency record:
UNIQUE (user, kind, object key), claimed before anything is sent, so an event is never
sent twice, by one worker or by two (portal/services/notify.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class NotificationSetting(Base):
    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    kinds: Mapped[list] = mapped_column(JSON, default=list)  # subset of notify.KINDS
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_url: Mapped[str] = mapped_column(String(2048), default="")
    # Signs each webhook body (HMAC-SHA256, header X-Portal-Signature); shown to the owner.
    webhook_secret: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")


class NotificationSent(Base):
    __tablename__ = "notifications_sent"
    __table_args__ = (UniqueConstraint("user_id", "kind", "object_key",
                                       name="uq_notifications_sent_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    subject: Mapped[str] = mapped_column(String(255), default="")
    # Per channel: "sent", "off" (not chosen / no address), "failed: <why>".
    email_status: Mapped[str] = mapped_column(String(255), default="")
    webhook_status: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class StartEstimate(Base):
    """When Slurm would start a request a create form shows (issue #17, item 4): the page
    asks for it here, the worker answers it with `sbatch --test-only` as the user
    (portal/services/startest.py), so Slurm is never asked on the page's path."""

    __tablename__ = "start_estimates"
    __table_args__ = (UniqueConstraint("user_id", "signature",
                                       name="uq_start_estimates_request"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(64))  # sha256 of `spec`
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime)
    start_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    error: Mapped[str | None] = mapped_column(Text)
