"""Portal users (each bound to a Unix account) and their personal API tokens."""

from __future__ import annotations

from datetime import datetime

from flask import g, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # The Unix account every Slurm/container command for this user runs as (None: admin only).
    unix_user: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # The stored role; code reads `is_admin`, which also honours the API token's scope.
    admin_role: Mapped[bool] = mapped_column("is_admin", Boolean, default=False)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    theme: Mapped[str] = mapped_column(String(8), default="light")
    locale: Mapped[str | None] = mapped_column(String(8))
    # Bumped on logout and password change: every cookie carrying an older value is dead.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    current_project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan")
    tokens = relationship("ApiToken", back_populates="user", cascade="all, delete-orphan")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @hybrid_property
    def is_admin(self) -> bool:
        """The platform-admin right in force for this request.

        An API request made with a token without the `admin` scope acts with a member's
        rights even when the token's owner is an admin (portal.api.auth marks the request),
        so every admin check in pages, services and API honours the scope at once.
        """
        if not self.admin_role:
            return False
        return not (has_app_context() and g.get("admin_withheld_for") == self.id)

    @is_admin.inplace.setter
    def _set_is_admin(self, value: bool) -> None:
        self.admin_role = value

    @is_admin.inplace.expression
    @classmethod
    def _is_admin_expression(cls):
        return cls.admin_role

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled users
        return bool(self.is_enabled)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # Only a SHA-256 of the token is kept; the prefix lets a user recognise it in the list.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    # read (GET/HEAD only), write (also changes the owner's resources) or admin (also the
    # owner's platform-admin rights); see portal.services.tokens.
    scope: Mapped[str] = mapped_column(String(8), default="read")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Coalesced: written at most once per TOKEN_LAST_USED_INTERVAL, so reads stay reads.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user = relationship("User", back_populates="tokens")
