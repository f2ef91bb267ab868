"""Network security (F9, F10): a user's SSH public keys and IP whitelists.

Only public material is stored: a generated private key is handed to the user once and
never reaches this database. Keys and whitelists belong to one user; sessions (F3) refer
to them by id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class SshKey(Base):
    __tablename__ = "ssh_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "name"),
        UniqueConstraint("user_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # e.g. "ssh-ed25519", "sk-ecdsa-sha2-nistp256@openssh.com"
    key_type: Mapped[str] = mapped_column(String(64))
    bits: Mapped[int] = mapped_column(Integer)
    # The re-serialised "TYPE BASE64" (never the pasted text); the comment is kept apart.
    public_key: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(200), default="")
    fingerprint: Mapped[str] = mapped_column(String(64))  # "SHA256:…" as ssh-keygen -l shows
    origin: Mapped[str] = mapped_column(String(16))  # "generated" or "imported"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")


class Whitelist(Base):
    __tablename__ = "whitelists"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user = relationship("User")
    rules = relationship(
        "WhitelistRule",
        back_populates="whitelist",
        cascade="all, delete-orphan",
        order_by="WhitelistRule.id",
    )


class WhitelistRule(Base):
    __tablename__ = "whitelist_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    whitelist_id: Mapped[int] = mapped_column(
        ForeignKey("whitelists.id", ondelete="CASCADE"), index=True
    )
    cidr: Mapped[str] = mapped_column(String(49))  # normalised network, e.g. "10.0.0.0/8"
    protocol: Mapped[str] = mapped_column(String(3))  # "tcp" or "udp"
    port_from: Mapped[int | None] = mapped_column(Integer)  # None: every port
    port_to: Mapped[int | None] = mapped_column(Integer)

    whitelist = relationship("Whitelist", back_populates="rules")
