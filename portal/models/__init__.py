"""All tables. Import from here so Alembic sees every model."""

from portal.db import Base
from portal.models.accounting import AccountingRecord, Price
from portal.models.audit import AuditEvent
from portal.models.cluster import ClusterSnapshot
from portal.models.jobs import Job, JobEvent, JobTemplate, Schedule, ScheduleEvent
from portal.models.netsec import SshKey, Whitelist, WhitelistRule
from portal.models.projects import (
    ExtensionRequest,
    ExtensionStatus,
    Membership,
    Project,
    ProjectRole,
    ProjectStatus,
)
from portal.models.sessions import PublicImage, Session
from portal.models.users import ApiToken, User

__all__ = [
    "Base",
    "AccountingRecord",
    "ApiToken",
    "AuditEvent",
    "ClusterSnapshot",
    "ExtensionRequest",
    "ExtensionStatus",
    "Job",
    "JobEvent",
    "JobTemplate",
    "Membership",
    "Price",
    "Project",
    "ProjectRole",
    "ProjectStatus",
    "PublicImage",
    "Schedule",
    "ScheduleEvent",
    "Session",
    "SshKey",
    "User",
    "Whitelist",
    "WhitelistRule",
]
