"""/api/v1/costs (F11): spending per period by project, user, GPU model or service type;
/api/v1/prices: the prices in force (admins set them: POST). Refusals are the services'
own ServiceErrors with stable codes (invalid_date, reversed_range, range_too_long,
invalid_period, invalid_group, invalid_service, not_found; invalid_price,
invalid_resource, forbidden)."""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.costs_openapi import register
from portal.api.schemas.costs import CostReport, Price
from portal.services import ServiceError, prices
from portal.services import costs as svc

register()


@bp.get("/costs")
@token_required
def get_costs():
    query = svc.parse_query(request.args)
    return jsonify(CostReport.dump(svc.report(g.api_user, query).as_dict()))


@bp.get("/prices")
@token_required
def list_prices():
    return jsonify(Price.dump_all(p.as_dict() for p in prices.current()))


@bp.post("/prices")
@token_required
def set_price():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object: {\"resource\": \"gpu:a100\", "
                           "\"hourly\": \"0.10\"}.", "invalid_body")
    row = prices.set_price(g.api_user, body.get("resource"), body.get("hourly"))
    return jsonify(Price.dump({"resource": row.resource, "hourly": str(row.hourly),
                               "effective_from": row.effective_from.isoformat() + "Z",
                               "billing_weight": prices.weight_of(row.hourly)})), 201
