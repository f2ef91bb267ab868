"""/api/v1/whitelists: list, create with rules, add rules, remove a rule, delete, check."""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.netsec_openapi import register
from portal.api.schemas.netsec import AddressCheck, Whitelist, WhitelistWithWarnings
from portal.services import ServiceError, whitelists

register()


def rule_json(rule) -> dict:
    return {
        "id": rule.id,
        "cidr": rule.cidr,
        "protocol": rule.protocol,
        "port_from": rule.port_from,
        "port_to": rule.port_to,
        "label": whitelists.rule_label(rule),
    }


def whitelist_json(whitelist) -> dict:
    return {
        "id": whitelist.id,
        "name": whitelist.name,
        "created_at": whitelist.created_at.isoformat() + "Z",
        "rules": [rule_json(r) for r in whitelist.rules],
        "used_by": [str(getattr(s, "name", s)) for s in whitelists.whitelist_usage(whitelist)],
    }


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    return body


def _admit_all(body: dict) -> bool:
    """The explicit choice to admit every address (issue #12): JSON true, nothing else."""
    value = body.get("admit_all", False)
    if not isinstance(value, bool):
        raise ServiceError("admit_all must be true or false.", "invalid_admit_all")
    return value


@bp.get("/whitelists")
@token_required
def list_whitelists():
    return jsonify(Whitelist.dump_all(whitelist_json(w)
                                      for w in whitelists.list_whitelists(g.api_user)))


@bp.post("/whitelists")
@token_required
def create_whitelist():
    body = _body()
    whitelist, warnings = whitelists.create_whitelist(
        g.api_user, body.get("name"), body.get("rules", []), admit_all=_admit_all(body)
    )
    return jsonify(WhitelistWithWarnings.dump(
        {**whitelist_json(whitelist), "warnings": [str(w) for w in warnings]})), 201


@bp.get("/whitelists/<int:whitelist_id>")
@token_required
def get_whitelist(whitelist_id: int):
    return jsonify(Whitelist.dump(whitelist_json(whitelists.get_whitelist(g.api_user,
                                                                          whitelist_id))))


@bp.delete("/whitelists/<int:whitelist_id>")
@token_required
def delete_whitelist(whitelist_id: int):
    whitelists.delete_whitelist(g.api_user, whitelist_id)
    return "", 204


@bp.post("/whitelists/<int:whitelist_id>/rules")
@token_required
def add_rules(whitelist_id: int):
    body = _body()
    added, warnings = whitelists.add_rules(g.api_user, whitelist_id, body.get("rules", []),
                                           admit_all=_admit_all(body))
    whitelist = whitelists.get_whitelist(g.api_user, whitelist_id)
    return jsonify(WhitelistWithWarnings.dump({
        **whitelist_json(whitelist),
        "added": [rule_json(r) for r in added],
        "warnings": [str(w) for w in warnings],
    })), 201


@bp.delete("/whitelists/<int:whitelist_id>/rules/<int:rule_id>")
@token_required
def delete_rule(whitelist_id: int, rule_id: int):
    whitelists.delete_rule(g.api_user, whitelist_id, rule_id)
    return "", 204


@bp.get("/whitelists/<int:whitelist_id>/check")
@token_required
def check_address(whitelist_id: int):
    """What the whitelist admits for `?address=` (default: this request's client)."""
    whitelist = whitelists.get_whitelist(g.api_user, whitelist_id)
    return jsonify(AddressCheck.dump(whitelists.explain(whitelist,
                                                        request.args.get("address") or None)))
