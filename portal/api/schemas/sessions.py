"""Sessions (F3) and the images they start (F13): what /api/v1/sessions and /images
answer and accept."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, REASON, Efficiency, Number, Text

State = Literal["awaiting", "submitting", "pending", "starting", "running", "deleting",
                "ended", "failed", "declined", "withdrawn"]


class SessionAcceptance(Out):
    """Only while `awaiting`: a manager asked for it with a custom image (issue #12)."""

    requested_by: Text
    image: str
    image_type: str
    image_name: str
    image_description: Text
    built_by: Text
    from_session: Text
    image_available: bool
    requested_at: ISO


class ReadyStage(Out):
    """One step to ready: queued (Slurm accepted the job), started (Slurm says RUNNING),
    container (its services listen), app (Jupyter answers through the portal)."""

    stage: Literal["queued", "started", "container", "app"]
    at: ISO = Field(description="null until reached")
    seconds: Number | None = Field(description="Since the stage before (the first: since "
                                              "the session was asked for)")


class SessionConnection(Out):
    host: Text
    ssh_command: Text
    jupyter_url: Text
    terminal_url: Text


class Session(Out):
    id: int
    name: str
    owner: str
    project: str
    state: State = Field(description="awaiting: a manager asked for it with a custom image; "
                                     "nothing is submitted until the owner accepts")
    slurm_state: Text
    reason: Text
    reason_text: str
    deployment_id: Text = Field(description="Slurm job id (the same as slurm_job_id)")
    slurm_job_id: Text
    gpu_model: Text
    gpu_count: int
    cpus: int
    mem_gb: int
    shm_gb: int
    image: str
    framework: str
    services: list[str]
    nodes: list[str]
    error: Text
    created_at: ISO
    started_at: ISO
    end_at: ISO
    begin_at: ISO
    time_limit_min: int | None
    ends_at: ISO = Field(description="While starting or running: when its time ends")
    whitelists: list[str]
    allow_all: bool
    writable: bool = Field(description="Keeps changes to the container (can be saved as a "
                                       "custom image)")
    stages: list[ReadyStage] = Field(description="Time to ready, in order")
    time_to_ready_s: Number | None = Field(description="From the request to the app answering")
    efficiency: Efficiency | None = Field(description="Once it has ended (null before)")
    acceptance: SessionAcceptance = Field(None, description="Only while `awaiting`")
    connection: SessionConnection = Field(None, description="For the owner: where to connect "
                                                            "(no secrets)")


class Image(Out):
    name: str
    display_name: str
    type: str
    framework: str
    services: list[str]
    auth: list[str]


class RegisteredImage(Out):
    id: int
    name: str
    display_name: str
    description: Text
    path: str
    framework: str
    services: list[str]
    auth: list[str]
    shell: Text
    enabled: bool


class SessionInput(In):
    name: str
    image: str
    image_type: Literal["public", "custom"] | None = None
    gpu_model: str | None = None
    gpu_count: int | None = None
    cpus: int | None = None
    mem_gb: int | None = None
    shm_gb: int | None = None
    start: Literal["now", "at"] | None = None
    begin_at: str | None = Field(None, json_schema_extra={"format": "date-time"})
    end: Literal["never", "at", "hours"] | None = None
    end_at: str | None = Field(None, json_schema_extra={"format": "date-time"})
    hours: int | None = None
    ssh_auth: Literal["none", "key", "password"] | None = None
    ssh_key_ids: list[int] | None = None
    webterm_password: str | None = None
    whitelist_ids: list[int] | None = None
    allow_all: bool | None = None
    writable: bool = Field(False, description="Keep changes to the container (a per-session "
                                              "copy of the image, needed to save it as a "
                                              "custom image; start-up takes longer). "
                                              "Refused (400 writable_disabled) where the "
                                              "portal does not offer it "
                                              "(session_writable = false).")
    reason: str | None = REASON
    members: dict[str, int] | None = Field(None, description="Batch create (managers): "
                                                             "username → count")


class ImageInput(In):
    name: str
    path: str
    framework: str | None = None
    display_name: str | None = None
    description: str | None = None
    services: list[str] | None = None
    auth_methods: list[str] | None = None
    shell: str | None = None


OUTPUTS = [Session, Image, RegisteredImage]
INPUTS = [SessionInput, ImageInput]
