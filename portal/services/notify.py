"""Notifications by e-mail (SMTP) and per-user webhook (issue #17, item 3).

The worker's `notifications` step (portal/worker.py) looks for events in what the portal
already records — a session became ready, will end within the hour, ended (with what it
cost), an order waits for approval or was decided, a project's wallet is 80 % / 100 %
spent, a project ends soon — and sends each to the users it concerns who chose that kind
on their profile page. Other steps add events through `COLLECTORS` (the idle warning of
idle reclaim registers one) or send one at once with `deliver`.

Never twice: every event has a key (user, kind, object key), e.g. (7, "session_ready",
"session:12"). `deliver` first inserts that key into notifications_sent (UNIQUE) and
commits; only the process whose insert succeeded sends, so two workers, or one worker
that sees the event again next cycle, send it once. The price is at-most-once: a worker
killed between the claim and the send loses that one message (the row says so: its
channel status stays empty). No database transaction is open while SMTP or the webhook
is talked to.

One template per kind (templates/notifications/<kind>.txt): the first line is the
subject, the rest the text, rendered in the recipient's language (their locale; zh-TW
comes from the catalogue like every page). The webhook gets JSON with the same subject and
text plus the event's data, signed with the user's secret (HMAC-SHA256 of the body in
`X-Portal-Signature: sha256=<hex>`), and refuses addresses on the portal's own networks
(loopback, private, link-local) unless NOTIFY_WEBHOOK_ALLOW_PRIVATE: a user must not make
the worker call internal services.

Config (etc/portal.example.toml): SMTP_HOST (empty: no e-mail), SMTP_PORT, SMTP_FROM,
SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS, SMTP_SSL, NOTIFY_TIMEOUT (seconds per send),
NOTIFY_WEBHOOK_ALLOW_PRIVATE, NOTIFY_ENDING_MINUTES (default 60), NOTIFY_PROJECT_ENDING_DAYS
(default 7), NOTIFY_PORTAL_URL (links in messages).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import (
    Membership,
    NotificationSent,
    NotificationSetting,
    Order,
    Project,
    ProjectRole,
    Session,
    User,
    WalletTransaction,
)
from portal.services import ServiceError, audit

log = logging.getLogger(__name__)

# Kind → what the profile page calls it. idle_warning is sent by idle reclaim (item 2).
KINDS: dict[str, object] = {
    "session_ready": _l("A session is ready"),
    "session_ending": _l("A session will end within the hour"),
    "session_ended": _l("A session ended (with its cost)"),
    "approval_needed": _l("A request waits for my approval (managers)"),
    "approval_decided": _l("My request was approved or rejected"),
    "wallet_80": _l("A project's wallet is 80 percent spent (managers)"),
    "wallet_100": _l("A project's wallet is spent (managers)"),
    "project_ending": _l("A project of mine ends soon"),
    "idle_warning": _l("A session is idle and will be ended"),
}
RECENT = timedelta(days=1)  # events older than this are history, not news
ORDER_RECENT = timedelta(days=7)
MAX_URL = 2048


@dataclass
class Event:
    """One thing to tell one user. `key` names the object (and, where the same object can
    have the event again, the occasion: a session's new end time after an extension)."""

    user: User
    kind: str
    key: str
    data: dict = field(default_factory=dict)


# -- settings (the profile page, API-free) ---------------------------------------------


def setting_of(user) -> NotificationSetting:
    """The user's choices; a user who never chose gets every kind by e-mail."""
    row = db.session.get(NotificationSetting, user.id)
    if row is None:
        row = NotificationSetting(user_id=user.id, kinds=list(KINDS), email=True,
                                  webhook_url="", webhook_secret="")
    return row


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host, at most 2048 characters; "" switches the webhook off.
    Raises ServiceError("invalid_webhook")."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if (len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in url) or parts.username or parts.password):
        raise ServiceError(_l("The webhook is an http:// or https:// address with a host "
                              "name (no user name or password in it), at most 2048 "
                              "characters."), "invalid_webhook")
    problem = _address_problem(parts.hostname, parts.port or (443 if parts.scheme == "https"
                                                              else 80))
    if problem:
        raise ServiceError(problem, "invalid_webhook")
    return url


def save_settings(user, kinds: Iterable[str], email: bool, webhook_url: str,
                  new_secret: bool = False) -> NotificationSetting:
    """Store the user's choices (unknown kinds refused, nothing changed on any error)."""
    chosen = [k for k in kinds]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ServiceError(_l("Unknown notification: %(kind)s.", kind=unknown[0]),
                           "invalid_kind")
    url = check_webhook_url(webhook_url)
    row = db.session.get(NotificationSetting, user.id)
    if row is None:
        row = NotificationSetting(user_id=user.id, webhook_secret="")
        db.session.add(row)
    row.kinds = [k for k in KINDS if k in chosen]
    row.email = bool(email)
    row.webhook_url = url
    if url and (new_secret or not row.webhook_secret):
        row.webhook_secret = secrets.token_hex(32)
    row.updated_at = db.utcnow()
    audit.record("notifications.settings", f"user:{user.id}", actor=user, commit=False,
                 kinds=row.kinds, email=row.email, webhook=bool(url))
    db.session.commit()
    return row


# -- finding events ------------------------------------------------------------------


def _cfg(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def _managers(project_id: int) -> list[User]:
    return list(db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                                   .where(Membership.project_id == project_id,
                                          Membership.role == ProjectRole.MANAGER)))


def _members(project_id: int) -> list[User]:
    return list(db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                                   .where(Membership.project_id == project_id)))


def _session_data(s: Session) -> dict:
    return {"session_id": s.id, "name": s.name, "project": s.account,
            "slurm_job_id": s.slurm_job_id, "url": _link(f"/sessions/{s.id}")}


def sessions_ready(now: datetime) -> list[Event]:
    rows = db.session.scalars(select(Session).where(
        Session.state == "running", Session.ready_at.is_not(None),
        Session.ready_at >= now - RECENT))
    return [Event(s.user, "session_ready", f"session:{s.id}", _session_data(s)) for s in rows]


def sessions_ending(now: datetime) -> list[Event]:
    """Running sessions whose end (start + TimeLimit, or the chosen end) is within
    NOTIFY_ENDING_MINUTES; keyed by that end, so an extended session is warned again."""
    from portal.services.extend import ends_at

    ahead = timedelta(minutes=float(_cfg("NOTIFY_ENDING_MINUTES", 60)))
    events = []
    for s in db.session.scalars(select(Session).where(Session.state == "running")):
        end = ends_at(s)
        if end is not None and now < end <= now + ahead:
            minutes = max(1, round((end - now).total_seconds() / 60))
            events.append(Event(s.user, "session_ending",
                                f"session:{s.id}:{end:%Y%m%dT%H%M}",
                                {**_session_data(s), "ends_at": f"{end:%Y-%m-%d %H:%M} UTC",
                                 "minutes": minutes}))
    return events


CHARGE_WAIT = timedelta(minutes=30)


def sessions_ended(now: datetime) -> list[Event]:
    """Ended sessions with their cost: the wallet's charge for the Slurm job once the worker
    made it (it waits for the sacct import); after CHARGE_WAIT without one, "not known yet"."""
    from portal.services.estimate import format_money

    rows = list(db.session.scalars(select(Session).where(
        Session.state.in_(("ended", "failed")), Session.ended_at.is_not(None),
        Session.ended_at >= now - RECENT)))
    ids = [s.slurm_job_id for s in rows if s.slurm_job_id]
    charges = dict(db.session.execute(
        select(WalletTransaction.job_id, WalletTransaction.amount)
        .where(WalletTransaction.job_id.in_(ids))).all()) if ids else {}
    from portal.services.efficiency import of as efficiency_of

    events = []
    for s in rows:
        charge = charges.get(s.slurm_job_id)
        used = efficiency_of("session", s.id) if s.started_at is not None else None
        if (charge is None or (used is None and s.started_at is not None)) \
                and s.started_at is not None and s.ended_at > now - CHARGE_WAIT:
            continue  # the charge and what it used come from sacct: wait for them
        cost = (-Decimal(charge) if charge is not None
                else Decimal(0) if s.started_at is None else None)
        events.append(Event(s.user, "session_ended", f"session:{s.id}", {
            **_session_data(s), "state": s.state,
            "cost": format_money(cost) if cost is not None else None,
            "ended_at": f"{s.ended_at:%Y-%m-%d %H:%M} UTC",
            "efficiency": used}))  # issue #17 item 6: what it used of what it held
    return events


def _order_data(o: Order) -> dict:
    return {"order_id": o.id, "name": o.name, "kind": o.kind, "project": o.account,
            "requested_by": o.user.username if o.user else "", "gpus": o.gpu_count,
            "gpu_model": o.gpu_model or "", "decision": o.approval,
            "message": o.decision_message or "", "url": _link(f"/orders/{o.id}")}


def approvals(now: datetime) -> list[Event]:
    events = []
    for o in db.session.scalars(select(Order).where(Order.approval == "pending",
                                                    Order.created_at >= now - ORDER_RECENT)):
        events += [Event(m, "approval_needed", f"order:{o.id}", _order_data(o))
                   for m in _managers(o.project_id) if m.id != o.user_id]
    for o in db.session.scalars(select(Order).where(
            Order.approval.in_(("approved", "rejected")), Order.decided_at.is_not(None),
            Order.decided_at >= now - ORDER_RECENT)):
        if o.user is not None:
            events.append(Event(o.user, "approval_decided", f"order:{o.id}", _order_data(o)))
    return events


def wallets(now: datetime) -> list[Event]:
    """Projects whose charges reached 80 % / 100 % of their top-ups; keyed by the top-up
    total, so a project topped up again is told again when it gets there again."""
    from portal.services.estimate import format_money

    rows = db.session.execute(
        select(WalletTransaction.project_id,
               func.sum(case((WalletTransaction.kind == "topup", WalletTransaction.amount),
                             else_=0)),
               func.sum(case((WalletTransaction.kind == "charge", WalletTransaction.amount),
                             else_=0)))
        .group_by(WalletTransaction.project_id))
    events = []
    for project_id, topups, charges in rows:
        topups, spent = Decimal(topups or 0), -Decimal(charges or 0)
        if topups <= 0:
            continue
        share = spent / topups
        project = db.session.get(Project, project_id)
        data = {"project": project.account, "project_name": project.name,
                "spent": format_money(spent), "topups": format_money(topups),
                "percent": int(share * 100), "url": _link(f"/wallet/{project_id}")}
        for kind, level in (("wallet_80", Decimal("0.8")), ("wallet_100", Decimal(1))):
            if share >= level:
                events += [Event(m, kind, f"project:{project_id}:topups:{topups:f}", data)
                           for m in _managers(project_id)]
    return events


def projects_ending(now: datetime) -> list[Event]:
    days = int(_cfg("NOTIFY_PROJECT_ENDING_DAYS", 7))
    today: date = now.date()
    events = []
    for p in db.session.scalars(select(Project).where(
            Project.end_date.is_not(None), Project.end_date >= today,
            Project.end_date <= today + timedelta(days=days))):
        data = {"project": p.account, "project_name": p.name,
                "end_date": p.end_date.isoformat(), "days": (p.end_date - today).days,
                "url": _link(f"/projects/{p.id}")}
        events += [Event(m, "project_ending", f"project:{p.id}:end:{p.end_date.isoformat()}",
                         data) for m in _members(p.id)]
    return events


# Every cycle runs these; another feature appends its own (idle reclaim: idle_warning).
COLLECTORS: list[Callable[[datetime], list[Event]]] = [
    sessions_ready, sessions_ending, sessions_ended, approvals, wallets, projects_ending,
]


def register_collector(collector: Callable[[datetime], list[Event]]) -> None:
    if collector not in COLLECTORS:
        COLLECTORS.append(collector)


def _link(path: str) -> str:
    base = str(_cfg("NOTIFY_PORTAL_URL", "") or "").rstrip("/")
    return f"{base}{path}" if base else path


# -- sending -------------------------------------------------------------------------


def render(event: Event) -> tuple[str, str]:
    """(subject, text) in the user's language from templates/notifications/<kind>.txt."""
    languages = current_app.config.get("LANGUAGES") or ["en"]
    locale = event.user.locale if event.user.locale in languages else \
        current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    # The bare Jinja environment: the worker has no request, and the pages' context
    # processors (current user, menus) have nothing to do with a message.
    with force_locale(locale):
        text = current_app.jinja_env.get_template(f"notifications/{event.kind}.txt") \
            .render(user=event.user, d=event.data)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _wanted(user: User, kind: str, cache: dict) -> tuple[bool, bool, NotificationSetting]:
    """(send e-mail?, call the webhook?, the setting) for this user and kind."""
    setting = cache.get(user.id)
    if setting is None:
        setting = cache[user.id] = setting_of(user)
    if kind not in (setting.kinds or []):
        return False, False, setting
    email = bool(setting.email and user.email and _cfg("SMTP_HOST", ""))
    return email, bool(setting.webhook_url), setting


def deliver(event: Event, cache: dict | None = None) -> str:
    """Send `event` unless it was claimed before. Returns "sent", "skipped" (not wanted or
    no channel), "duplicate" (claimed already) or "failed" (no channel got it)."""
    cache = {} if cache is None else cache
    email, webhook, setting = _wanted(event.user, event.kind, cache)
    if not email and not webhook:
        return "skipped"
    if db.session.scalar(select(NotificationSent.id).where(
            NotificationSent.user_id == event.user.id, NotificationSent.kind == event.kind,
            NotificationSent.object_key == event.key)) is not None:
        return "duplicate"
    subject, text = render(event)
    row = NotificationSent(user_id=event.user.id, kind=event.kind, object_key=event.key,
                           subject=subject[:255], details=event.data)
    db.session.add(row)
    try:
        db.session.commit()  # the claim: whoever inserts it sends it
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    row_id, to, url, secret = row.id, event.user.email, setting.webhook_url, \
        setting.webhook_secret
    statuses = {"email_status": "off", "webhook_status": "off"}
    if email:
        statuses["email_status"] = _try(lambda: send_email(to, subject, text, event))
    if webhook:
        statuses["webhook_status"] = _try(lambda: send_webhook(url, secret, subject, text,
                                                               event))
    row = db.session.get(NotificationSent, row_id)
    for name, value in statuses.items():
        setattr(row, name, value[:255])
    db.session.commit()
    return "sent" if "sent" in statuses.values() else "failed"


def _try(send: Callable[[], None]) -> str:
    try:
        send()
        return "sent"
    except Exception as exc:  # noqa: BLE001 - recorded on the row and logged; others go on
        log.warning("notification not sent: %s", exc)
        return f"failed: {type(exc).__name__}: {exc}"


def send_email(to: str, subject: str, text: str, event: Event) -> None:
    message = EmailMessage()
    message["From"] = str(_cfg("SMTP_FROM", "portal@localhost"))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="portal")
    message["X-Portal-Event"] = f"{event.kind} {event.key}"
    message.set_content(text)
    host, port = str(_cfg("SMTP_HOST", "")), int(_cfg("SMTP_PORT", 25))
    timeout = float(_cfg("NOTIFY_TIMEOUT", 10))
    if _cfg("SMTP_SSL", False):
        client = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if _cfg("SMTP_STARTTLS", False):
            client.starttls(context=ssl.create_default_context())
        if _cfg("SMTP_USER", ""):
            client.login(str(_cfg("SMTP_USER", "")), str(_cfg("SMTP_PASSWORD", "")))
        client.send_message(message)


def _address_problem(host: str, port: int) -> str:
    """Why the worker may not call `host` ("" when it may): every address it resolves to
    must be public, unless NOTIFY_WEBHOOK_ALLOW_PRIVATE (tests, closed sites)."""
    if _cfg("NOTIFY_WEBHOOK_ALLOW_PRIVATE", False):
        return ""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return str(_l("The webhook's host name %(host)s does not resolve.", host=host))
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return str(_l("The webhook's host %(host)s is on a private or local network "
                          "(%(address)s); the portal only calls public addresses.",
                          host=host, address=str(address)))
    return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead inside: refused
        return None


def send_webhook(url: str, secret: str, subject: str, text: str, event: Event) -> None:
    parts = urlsplit(url)
    problem = _address_problem(parts.hostname or "", parts.port or 80)
    if problem:
        raise ValueError(problem)
    body = json.dumps({"kind": event.kind, "key": event.key, "subject": subject,
                       "text": text, "user": event.user.username,
                       "at": db.utcnow().isoformat() + "Z", "data": event.data},
                      ensure_ascii=False, default=str).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "slurm-gpu-portal",
        "X-Portal-Event": event.kind, "X-Portal-Signature": f"sha256={signature}"})
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=float(_cfg("NOTIFY_TIMEOUT", 10))) as answer:
        if not 200 <= answer.status < 300:
            raise urllib.error.HTTPError(url, answer.status, "not 2xx", answer.headers, None)


# -- the worker step -----------------------------------------------------------------


def worker_step(now: datetime | None = None) -> dict:
    """Collect every event and deliver each once. Never raises for one collector or one
    message: the summary counts what was sent and names what failed."""
    now = now or db.utcnow()
    cache: dict = {}
    counts = {"sent": 0, "failed": 0}
    errors = []
    for collector in list(COLLECTORS):
        try:
            events = collector(now)
        except Exception as exc:  # noqa: BLE001 - the other collectors still run
            db.session.rollback()
            log.exception("notifications: %s failed", collector.__name__)
            errors.append(f"{collector.__name__}: {exc}"[:200])
            continue
        for event in events:
            try:
                result = deliver(event, cache)
            except Exception as exc:  # noqa: BLE001 - e.g. a template error: the rest go on
                db.session.rollback()
                log.exception("notifications: %s %s failed", event.kind, event.key)
                errors.append(f"{event.kind} {event.key}: {exc}"[:200])
                continue
            if result in counts:
                counts[result] += 1
    summary = {f"notifications_{k}": v for k, v in counts.items() if v}
    if errors:
        summary["notifications_error"] = "; ".join(errors)
    return summary
