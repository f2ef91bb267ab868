"""/api/v1/audit: the operation log as JSON (F11), with the page's rules and filters.

Users get their own events, admins everyone's. Query: from, to (YYYY-MM-DD inclusive or
ISO date-time, UTC), actor (admins), action (exact or a prefix ending in "."), q (text in
target or details), ip, page, per_page (≤ 500). Errors: invalid_date, invalid_range.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.audit_openapi import register
from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.schemas.audit import AuditPage
from portal.services import ServiceError, oplog

register()


def _int(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceError(f"{name} must be a whole number.", "invalid_number") from None
    if value < 1:
        raise ServiceError(f"{name} must be at least 1.", "invalid_number")
    return value


@bp.get("/audit")
@token_required
def list_audit():
    filters = oplog.parse_filters(request.args)
    page = oplog.page_of(g.api_user, filters, _int("page", 1),
                         min(_int("per_page", oplog.PER_PAGE), oplog.MAX_PER_PAGE))
    return jsonify(AuditPage.dump({
        "page": page.page, "per_page": page.per_page, "has_next": page.has_next,
        "events": [oplog.event_json(e) for e in page.events]}))
