"""Custom images (F4): what /api/v1/images/custom answers and accepts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Text

Service = Literal["jupyter", "ssh", "webterm"]


class CustomImage(Out):
    id: int
    name: str
    tag: str
    key: str = Field(description="`name:tag`: the `image` of sessions and jobs with "
                                 "image_type custom")
    display_name: Text
    description: Text
    framework: Text
    services: list[str]
    state: Literal["queued", "building", "ready", "failed"]
    progress: int = Field(json_schema_extra={"minimum": 0, "maximum": 100})
    size_bytes: int | None
    error: Text
    session_id: int | None
    session_name: Text
    created_by: Text
    created_at: ISO


class DeletedImage(Out):
    deleted: int = Field(description="The id of the deleted image")


class CommitInput(In):
    session_id: int = Field(description="One of your running sessions (invalid_session_id)")
    name: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9._-]{0,38}[a-z0-9])?$")
    tag: str = Field("latest", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,19}$")
    display_name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=2000)
    framework: str | None = Field(None, max_length=64,
                                  description="Image type: the framework it provides")
    services: list[Service] | None = None


OUTPUTS = [CustomImage, DeletedImage]
INPUTS = [CommitInput]
