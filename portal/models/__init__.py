"""All tables. Import from here so Alembic sees every model."""

from portal.db import Base
from portal.models.account import Activation, SiteText, UserContact
from portal.models.accounting import AccountingRecord, Price
from portal.models.audit import AuditEvent
from portal.models.cluster import ClusterSnapshot
from portal.models.custom_images import CustomImage
from portal.models.efficiency import Efficiency
from portal.models.idempotency import IdempotencyKey
from portal.models.idle import IdlePolicy, SessionIdle
from portal.models.jobs import Job, JobEvent, JobTemplate, Schedule, ScheduleEvent
from portal.models.login_limit import LoginAttempt
from portal.models.monitoring import SessionMetric, SessionMetricCursor
from portal.models.netsec import SshKey, Whitelist, WhitelistRule
from portal.models.notifications import NotificationSent, NotificationSetting, StartEstimate
from portal.models.orders import Order, OrderEvent
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
from portal.models.wallet import WalletBudget, WalletTransaction
from portal.models.worker import WorkerHeartbeat

__all__ = [
    "Base",
    "IdlePolicy",
    "SessionIdle",
    "AccountingRecord",
    "Activation",
    "ApiToken",
    "AuditEvent",
    "ClusterSnapshot",
    "CustomImage",
    "Efficiency",
    "ExtensionRequest",
    "ExtensionStatus",
    "IdempotencyKey",
    "Job",
    "JobEvent",
    "JobTemplate",
    "LoginAttempt",
    "Membership",
    "NotificationSent",
    "NotificationSetting",
    "Order",
    "OrderEvent",
    "Price",
    "Project",
    "ProjectRole",
    "ProjectStatus",
    "PublicImage",
    "Schedule",
    "ScheduleEvent",
    "Session",
    "SessionMetric",
    "SessionMetricCursor",
    "SiteText",
    "SshKey",
    "StartEstimate",
    "User",
    "UserContact",
    "WalletBudget",
    "WalletTransaction",
    "Whitelist",
    "WhitelistRule",
    "WorkerHeartbeat",
]
