"""OpenAPI paths of /keys and /whitelists (F9, F10), merged into portal.api.openapi's PATHS
when portal.api.keys or portal.api.whitelists loads; the schemas come from
portal.api.schemas.netsec."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, netsec


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _ids(*names: str) -> list[dict]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
            for n in names]


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


DELETED = {"204": {"description": "Deleted"}, **_errors(401, 404)}

NETSEC_PATHS: dict = {
    "/keys": {
        "get": {"summary": "Your SSH public keys",
                "responses": {"200": _ok({"type": "array", "items": _ref("Key")}),
                              **_errors(401)}},
        "post": {"summary": "Import a public key (with public_key), or generate a pair: the "
                            "private key is in this response only and is never stored",
                 "requestBody": _body(_ref("KeyInput")),
                 "responses": {"201": _ok(_ref("NewKey"), "Created"), **_errors(400, 401)}},
    },
    "/keys/{key_id}": {
        "get": {"summary": "One key", "parameters": _ids("key_id"),
                "responses": {"200": _ok(_ref("Key")), **_errors(401, 404)}},
        "delete": {"summary": "Delete a key (running sessions keep it until they end)",
                   "parameters": _ids("key_id"), "responses": DELETED},
    },
    "/whitelists": {
        "get": {"summary": "Your IP whitelists with their rules",
                "responses": {"200": _ok({"type": "array", "items": _ref("Whitelist")}),
                              **_errors(401)}},
        "post": {"summary": "Create a whitelist with one or more rules (rules admitting every "
                            "address need admit_all, and warn)",
                 "requestBody": _body(_ref("WhitelistInput")),
                 "responses": {"201": _ok(_ref("WhitelistWithWarnings"), "Created"),
                               **_errors(400, 401)}},
    },
    "/whitelists/{whitelist_id}": {
        "get": {"summary": "One whitelist", "parameters": _ids("whitelist_id"),
                "responses": {"200": _ok(_ref("Whitelist")), **_errors(401, 404)}},
        "delete": {"summary": "Delete a whitelist and its rules",
                   "parameters": _ids("whitelist_id"), "responses": DELETED},
    },
    "/whitelists/{whitelist_id}/rules": {
        "post": {"summary": "Add several rules at once (rules already present are skipped)",
                 "parameters": _ids("whitelist_id"),
                 "requestBody": _body(_ref("RulesInput")),
                 "responses": {"201": _ok(_ref("WhitelistWithWarnings"), "Added"),
                               **_errors(400, 401, 404)}},
    },
    "/whitelists/{whitelist_id}/rules/{rule_id}": {
        "delete": {"summary": "Remove one rule", "parameters": _ids("whitelist_id", "rule_id"),
                   "responses": DELETED},
    },
    "/whitelists/{whitelist_id}/check": {
        "get": {"summary": "Whether the whitelist admits an address (default: your client "
                           "address as the portal sees it) for SSH and for the web",
                "parameters": _ids("whitelist_id") + [
                    {"name": "address", "in": "query", "required": False,
                     "schema": {"type": "string"}}],
                "responses": {"200": _ok(_ref("AddressCheck")), **_errors(400, 401, 404)}},
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(NETSEC_PATHS)
    SCHEMAS.update(components(netsec.OUTPUTS, netsec.INPUTS))
