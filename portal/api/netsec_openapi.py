"""OpenAPI paths and schemas of /keys and /whitelists (F9, F10), merged into
portal.api.openapi's PATHS/SCHEMAS when portal.api.keys or portal.api.whitelists loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _ids(*names: str) -> list[dict]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
            for n in names]


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


DELETED = {"204": {"description": "Deleted"}, **_errors(401, 404)}
RULES_INPUT = {"type": "array", "maxItems": 200, "items": _ref("RuleInput")}
ADMIT_ALL = {"type": "boolean", "default": False,
             "description": "The explicit choice to admit every address: needed (else 400 "
                            "admits_everyone) when the rules' union covers all of IPv4 or "
                            "IPv6 for some protocol and port, e.g. 0.0.0.0/0 or 0.0.0.0/1 + "
                            "128.0.0.0/1"}

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
                 "requestBody": _body({"type": "object", "required": ["name", "rules"],
                                       "properties": {"name": {"type": "string",
                                                               "maxLength": 64},
                                                      "rules": RULES_INPUT,
                                                      "admit_all": ADMIT_ALL}}),
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
                 "requestBody": _body({"type": "object", "required": ["rules"],
                                       "properties": {"rules": RULES_INPUT,
                                                      "admit_all": ADMIT_ALL}}),
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

KEY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "type": {"type": "string", "example": "ssh-ed25519"},
        "bits": {"type": "integer"},
        "fingerprint": {"type": "string", "example": "SHA256:…"},
        "public_key": {"type": "string", "description": "TYPE BASE64, re-serialised"},
        "comment": {"type": "string"},
        "origin": {"type": "string", "enum": ["generated", "imported"]},
        "created_at": {"type": "string", "format": "date-time"},
        "used_by": {"type": "array", "items": {"type": "string"}},
    },
}
RULE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "cidr": {"type": "string"},
        "protocol": {"type": "string", "enum": ["tcp", "udp"]},
        "port_from": {"type": ["integer", "null"]},
        "port_to": {"type": ["integer", "null"]},
        "label": {"type": "string"},
    },
}
WHITELIST = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "rules": {"type": "array", "items": RULE},
        "used_by": {"type": "array", "items": {"type": "string"}},
    },
}

NETSEC_SCHEMAS: dict = {
    "Key": KEY,
    "NewKey": {"allOf": [KEY, {"type": "object", "properties": {
        "private_key": {"type": ["string", "null"], "description": "OpenSSH format; generated "
                        "keys only, in the create response only (null for an uploaded key and "
                        "in an answer replayed for an Idempotency-Key: never stored)"}}}]},
    "KeyInput": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 64},
            "type": {"type": "string", "enum": ["ed25519", "rsa"], "default": "ed25519"},
            "public_key": {"type": "string", "description": "one OpenSSH public key line"},
        },
    },
    "RuleInput": {
        "oneOf": [
            {"type": "string", "example": "10.0.0.0/8 tcp 22"},
            {"type": "object", "required": ["cidr"], "properties": {
                "cidr": {"type": "string", "example": "2001:db8::/32"},
                "protocol": {"type": "string", "enum": ["tcp", "udp"], "default": "tcp"},
                "port": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 65535},
                                   {"type": "string", "example": "6000-6010"},
                                   {"type": "null"}]}}},
        ]
    },
    "Whitelist": WHITELIST,
    "WhitelistWithWarnings": {"allOf": [WHITELIST, {"type": "object", "properties": {
        "warnings": {"type": "array", "items": {"type": "string"}},
        "added": {"type": "array", "items": RULE}}}]},
    "AddressCheck": {
        "type": "object",
        "properties": {"address": {"type": "string"}, "ssh": {"type": "boolean"},
                       "web": {"type": "boolean"}},
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(NETSEC_PATHS)
    SCHEMAS.update(NETSEC_SCHEMAS)
