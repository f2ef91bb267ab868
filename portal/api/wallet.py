"""/api/v1/wallet: balances, a project's transactions with filters, admins' top-ups (F11).

Projects are addressed by id; refusals are the services' own (NotFound for a project the
token's user is not in, Forbidden for a top-up by a non-admin, ServiceError with a stable
code — invalid_amount, invalid_date, invalid_range, invalid_type, invalid_service).
"""

from __future__ import annotations

from decimal import Decimal

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.schemas.wallet import Wallet, WalletDetail, WalletTransaction
from portal.api.wallet_openapi import register
from portal.services import ServiceError
from portal.services import wallet as svc

register()
MAX_LIMIT = 5000


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


def transaction_json(tx) -> dict:
    return {
        "id": tx.id, "type": tx.kind, "amount": str(Decimal(tx.amount).quantize(svc.PLACES)),
        "at": _iso(tx.occurred_at),
        "recorded_at": _iso(tx.created_at), "service": tx.service, "job_id": tx.job_id,
        "user": tx.user or None, "qos": tx.qos or None, "billing": tx.billing,
        "elapsed_s": tx.elapsed_s, "order_id": tx.order_id,
        "by": svc.created_by_name(tx) or None, "note": tx.note or None,
    }


def wallet_json(project, balance) -> dict:
    return {"project_id": project.id, "account": project.account, "name": project.name,
            "balance": str(balance), "budget": svc.budget_view(project).as_dict()}


@bp.get("/wallet")
@token_required
def list_wallets():
    projects = svc.visible_projects(g.api_user)
    balances = svc.balances([p.id for p in projects])
    return jsonify(Wallet.dump_all(wallet_json(p, balances[p.id]) for p in projects))


@bp.get("/wallet/<int:project_id>")
@token_required
def get_wallet(project_id: int):
    project = svc.get_project(g.api_user, project_id)
    filters = svc.parse_filters(request.args)
    try:
        limit = int(request.args.get("limit") or svc.SHOWN_ROWS)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ServiceError(f"limit is a whole number from 1 to {MAX_LIMIT}.", "invalid_limit")
    listing = svc.transactions(project, filters, limit)
    return jsonify(WalletDetail.dump({
        **wallet_json(project, svc.balance(project.id)),
        "filters": filters.as_args(),
        "totals": {"count": listing.count, "topups": str(listing.topups),
                   "charges": str(listing.charges)},
        "truncated": listing.truncated,
        "transactions": [transaction_json(tx) for tx in listing.rows],
    }))


@bp.post("/wallet/<int:project_id>/topups")
@token_required
def top_up(project_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    tx = svc.top_up(g.api_user, project_id, body.get("amount"), body.get("note") or "")
    return jsonify(WalletTransaction.dump(transaction_json(tx))), 201
