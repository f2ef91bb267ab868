"""Checks an /api/v1 answer against the OpenAPI document (issue #18 item 4).

The unit tests of the API call many routes with many inputs; `tests/unit/conftest.py`
hands every JSON answer of /api/v1 to `problems()`, so a route that answers a status the
document does not list, or a body its schema does not allow, fails the test that made it.
Object schemas are checked strictly here (`unevaluatedProperties: false` added to each
one that lists properties), so a field the route sends but the document does not name is
drift too; the published document stays open, so that adding a field later is no break.
"""

from __future__ import annotations

import copy
import re
from functools import cache

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:portal-openapi"
PREFIX = "/api/v1"
UNDOCUMENTED = {"/openapi.json"}  # the document itself


def openapi_path(rule: str) -> str:
    """Flask's `/api/v1/jobs/<int:job_id>` as the document's `/jobs/{job_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(PREFIX):])


def _strict(schema, schemas: dict):
    """A copy in which every object schema that lists properties allows no others.
    Members of allOf are left open (a `$ref` member is copied in, open): their parent,
    which evaluates them all, is closed."""
    if isinstance(schema, list):
        return [_strict(s, schemas) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "allOf":
            out[key] = [_open(_strict(_inline(v, schemas), schemas)) for v in value]
        elif key in ("properties", "$defs", "patternProperties"):
            out[key] = {k: _strict(v, schemas) for k, v in value.items()}
        elif key in ("example", "examples", "enum", "const", "default"):
            out[key] = value
        else:
            out[key] = _strict(value, schemas)
    if ("properties" in out or "allOf" in out) and "additionalProperties" not in out:
        out["unevaluatedProperties"] = False
    return out


def _inline(schema, schemas: dict):
    while isinstance(schema, dict) and set(schema) == {"$ref"}:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _open(schema):
    if isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k != "unevaluatedProperties"}
    return schema


@cache
def _registry_and_doc():
    from portal.api.openapi import openapi_document

    doc = openapi_document()
    strict = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    strict["components"]["schemas"] = {k: _strict(v, schemas) for k, v in schemas.items()}
    strict["components"]["responses"] = _strict_responses(
        strict["components"]["responses"].values(), schemas, strict["components"]["responses"])
    for operations in strict["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                _strict_responses(operation.get("responses", {}).values(), schemas)
    resource = Resource.from_contents(strict, default_specification=DRAFT202012)
    return Registry().with_resource(BASE, resource), strict


def _strict_responses(responses, schemas: dict, result=None):
    for response in responses:
        for media in response.get("content", {}).values():
            if "schema" in media:
                media["schema"] = _strict(media["schema"], schemas)
    return result


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(doc: dict, obj: dict) -> tuple[dict, str | None]:
    """An OpenAPI-level `$ref` (a response) followed; returns it and its pointer."""
    pointer = None
    while "$ref" in obj:
        pointer = obj["$ref"].lstrip("#")
        kind, name = pointer.split("/")[-2:]
        obj = doc["components"][kind][name]
    return obj, pointer


def problems(method: str, rule: str, status: int, content_type: str, body) -> list[str]:
    """What is wrong with this answer by the document (empty when it matches)."""
    registry, doc = _registry_and_doc()
    path = openapi_path(rule)
    if path in UNDOCUMENTED:
        return []
    where = f"{method.upper()} {path} -> {status}"
    operation = doc["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return [f"{where}: no such operation in the document"]
    response = operation.get("responses", {}).get(str(status))
    if response is None:
        return [f"{where}: status not documented"]
    response, pointer = _resolve(doc, response)
    media_type = content_type.split(";")[0].strip()
    if media_type != "application/json":
        return []
    if "application/json" not in response.get("content", {}):
        return [f"{where}: answers JSON, the document gives no JSON schema"]
    if pointer is None:
        pointer = "/" + _pointer("paths", path, method.lower(), "responses", str(status))
    ref = f"{BASE}#{pointer}/content/{_pointer('application/json')}/schema"
    validator = Draft202012Validator({"$ref": ref}, registry=registry)
    return [f"{where}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in validator.iter_errors(body)][:40]
