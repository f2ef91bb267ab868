"""All tables. Import from here so Alembic sees every model."""

from portal.db import Base
from portal.models.audit import AuditEvent
from portal.models.cluster import ClusterSnapshot
from portal.models.netsec import SshKey, Whitelist, WhitelistRule
from portal.models.projects import Membership, Project, ProjectRole
from portal.models.users import ApiToken, User

__all__ = [
    "Base",
    "ApiToken",
    "AuditEvent",
    "ClusterSnapshot",
    "Membership",
    "Project",
    "ProjectRole",
    "SshKey",
    "User",
    "Whitelist",
    "WhitelistRule",
]
