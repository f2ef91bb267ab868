"""/api/v1/orders and /api/v1/approvals (F11).

Refusals are the services' own: NotFound for an order the token's user may not see,
Forbidden (own_request), ServiceError with a stable code — reversed_range,
range_too_long, invalid_date, already_decided, job_gone, message_required,
slurm_unavailable, slurm_rejected.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.orders_openapi import register
from portal.api.schemas.orders import Order
from portal.services import ServiceError
from portal.services import approvals as apsvc
from portal.services import orders as svc
from portal.services.jobs import get_backend

register()


@bp.get("/orders")
@token_required
def list_orders():
    orders = svc.list_orders(g.api_user, request.args)
    live = svc.live_states(orders)
    return jsonify(Order.dump_all(svc.as_dict(o, live=live.get(o.id)) for o in orders))


@bp.get("/orders/<int:order_id>")
@token_required
def get_order(order_id: int):
    return jsonify(Order.dump(svc.as_dict(svc.get_order(g.api_user, order_id), events=True)))


@bp.get("/approvals")
@token_required
def list_approvals():
    return jsonify(Order.dump_all(svc.as_dict(o) for o in apsvc.pending(g.api_user)))


@bp.post("/approvals/<int:order_id>/approve")
@token_required
def approve(order_id: int):
    order = apsvc.approve(g.api_user, order_id, get_backend())
    return jsonify(Order.dump(svc.as_dict(order, events=True)))


@bp.post("/approvals/<int:order_id>/reject")
@token_required
def reject(order_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object with a message.", "invalid_body")
    order = apsvc.reject(g.api_user, order_id, body.get("message"), get_backend())
    return jsonify(Order.dump(svc.as_dict(order, events=True)))
