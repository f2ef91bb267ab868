"""Custom images (F4): a running session's changed filesystem committed to a new image,
shared with the members of the session's project.

`building_session_id` is the database-level guard against two commits of one session at
once: it holds the session's id while the image is queued or building and is cleared when
the build ends (unique: a second row with the same value cannot be inserted).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow

STATES = ("queued", "building", "ready", "failed")


class CustomImage(Base):
    __tablename__ = "custom_images"
    __table_args__ = (UniqueConstraint("project_id", "name", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # The session it was committed from (kept as text too: sessions are hidden, not lost).
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True)
    session_name: Mapped[str] = mapped_column(String(64), default="")
    building_session_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # The committer's Unix user: the build runs as them (the stored file is the portal's).
    owner_unix: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(40))
    tag: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    framework: Mapped[str] = mapped_column(String(64), default="")
    services: Mapped[list] = mapped_column(JSON, default=list)
    auth_methods: Mapped[list] = mapped_column(JSON, default=list)
    shell: Mapped[str] = mapped_column(String(255), default="/bin/bash")
    base_image: Mapped[str] = mapped_column(String(64), default="")
    base_path: Mapped[str] = mapped_column(String(1024), default="")
    source_root: Mapped[str] = mapped_column(String(1024), default="")
    runtime: Mapped[str] = mapped_column(String(16), default="charliecloud")
    path: Mapped[str] = mapped_column(String(1024), default="")
    # "sha256:<hex>" of the image file, recorded when the portal stored it (issue #12) and
    # compared before every start; "" for images committed before (refused at start).
    digest: Mapped[str] = mapped_column(String(80), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    bytes_expected: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    project = relationship("Project")
    created_by = relationship("User")

    @property
    def key(self) -> str:
        """What sessions and jobs store as their image (`name:tag`, never a public name)."""
        return f"{self.name}:{self.tag}"

    @property
    def progress(self) -> int:
        """Percent of the expected bytes copied (100 once ready)."""
        if self.state == "ready":
            return 100
        if not self.bytes_expected:
            return 0
        return max(0, min(99, int(self.bytes_done * 100 / self.bytes_expected)))
