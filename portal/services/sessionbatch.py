"""Batch create (F3): a project manager starts count × members sessions, owned by the members.

Each session is validated and submitted *as its owner* (decision 1), into the project's
account. What belongs to a person stays theirs: SSH uses each member's own registered
keys, and the whitelists are each member's own (or "allow all incoming"); a manager never
attaches their keys or whitelists to someone else's session. Everything is validated for
every member before anything is submitted.

An image runs as its session's owner, so a member's session starts at once only from a
public image; from a custom image it waits, recorded but not submitted, until the member
accepts it (`portal.services.sessionaccept`, issue #12).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import Membership, ProjectRole, User
from portal.services import Forbidden, ServiceError, approvals, audit, cluster, sessionaccept
from portal.services import keys as keysvc
from portal.services import sessions as svc
from portal.services import whitelists as wlsvc
from portal.services.core.membership import refuse_archived, require_membership
from portal.services.sessionspec import int_field, parse_request, validate_name

MAX_PER_MEMBER = 10
MAX_TOTAL = 50


def _members(membership: Membership, counts: object) -> list[tuple[Membership, int]]:
    """[(membership, count)] from {username or user id: count}; members of the project only."""
    if not isinstance(counts, Mapping) or not counts:
        raise ServiceError(_l("Choose at least one member and a count."), "no_members")
    stmt = select(Membership).where(Membership.project_id == membership.project_id)
    by_key = {}
    for m in db.session.scalars(stmt):
        by_key[m.user.username] = m
        by_key[str(m.user_id)] = m
    chosen: list[tuple[Membership, int]] = []
    for key, raw in counts.items():
        member = by_key.get(str(key))
        if member is None:
            raise ServiceError(_l("%(name)s is not a member of this project.",
                                  name=str(key)[:32]), "not_member")
        count = int_field({"n": raw}, "n", 0, 0, MAX_PER_MEMBER, "invalid_count",
                          _l("Sessions per member"))
        if count:
            chosen.append((member, count))
    total = sum(n for _, n in chosen)
    if not chosen:
        raise ServiceError(_l("Choose at least one member and a count."), "no_members")
    if total > MAX_TOTAL:
        raise ServiceError(_l("At most %(n)s sessions at once.", n=MAX_TOTAL), "too_many")
    return chosen


def _member_data(data: Mapping, owner: User) -> dict:
    """The form for one member: their own keys and whitelists."""
    own = dict(data)
    own["webterm_password"] = ""
    if str(data.get("ssh_auth") or "none") == "key":
        own["ssh_key_ids"] = [k.id for k in keysvc.list_keys(owner)]
        if not own["ssh_key_ids"]:
            raise ServiceError(_l("%(name)s has no SSH key.", name=owner.username), "no_ssh_key")
    if not svc_bool(data.get("allow_all")):
        own["whitelist_ids"] = [w.id for w in wlsvc.list_whitelists(owner)]
        if not own["whitelist_ids"]:
            raise ServiceError(_l("%(name)s has no whitelist; allow all incoming, or ask them "
                                  "to create one.", name=owner.username), "no_whitelist")
    return own


def svc_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def plan(manager, data: Mapping, counts: object) -> list:
    """Validate everything for every member: [(owner, membership, SessionRequest)].

    Raises Forbidden for non-managers, ServiceError naming the member and field.
    """
    membership = require_membership(manager)
    if membership.role != ProjectRole.MANAGER:
        raise Forbidden(_l("Only project managers may create sessions for members."),
                        "not_manager")
    refuse_archived(membership.project)
    base = validate_name(data.get("name"))
    view = cluster.cached_view()
    plans = []
    for member, count in _members(membership, counts):
        owner = member.user
        if not owner.unix_user:
            raise ServiceError(_l("%(name)s has no Unix account.", name=owner.username),
                               "no_unix_account")
        own = _member_data(data, owner)
        for n in range(1, count + 1):
            name = validate_name(f"{base}-{owner.username}-{n}")
            request = parse_request(owner, own, view, quota=svc.project_quota(member),
                                    max_minutes=svc._max_minutes(view), name=name)
            plans.append((owner, member, request))
    return plans


def batch_create(manager, data: Mapping, counts: object, backend=None) -> list:
    """Create count × members sessions, each submitted as its owner; returns them.

    Nothing is submitted unless every session validates. If Slurm refuses one, those
    already submitted stay and the refusal is raised (naming the member).
    """
    plans = plan(manager, data, counts)
    backend = backend or svc.get_backend()
    created = []
    try:
        for owner, member, request in plans:
            session = svc.new_session(owner, member, request, created_by=manager)
            # Issue #12: an image the member does not already trust waits for their yes.
            if sessionaccept.needs_acceptance(owner, manager, request.image_type):
                session.state = sessionaccept.AWAITING
            db.session.add(session)
            db.session.commit()
            if session.state != sessionaccept.AWAITING:
                svc.launch(session, backend)
                # Issue #16: each session is an order (its charges link to it); one waiting
                # for its owner becomes one when they accept (sessionaccept.accept).
                approvals.record("session", session, backend, reason=data.get("reason"))
            created.append(session)
    finally:
        if created:
            audit.record("session.batch_create", f"project:{plans[0][1].project_id}",
                         name=str(data.get("name")), sessions=[s.id for s in created],
                         owners=sorted({s.user.username for s in created}),
                         image=plans[0][2].image,
                         awaiting=[s.id for s in created if s.state == sessionaccept.AWAITING])
    return created
