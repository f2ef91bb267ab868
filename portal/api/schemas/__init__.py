"""Typed schemas of /api/v1 (issue #18 item 4), one module per resource.

Each resource declares pydantic models: `Out` models describe what a route answers and
serialise it (`Model.dump(data)`), `In` models describe what a route accepts and check
the fields a route names (`check_fields`). `components()` turns them all into the
OpenAPI document's `components.schemas`, so the document, the checks and the answers
come from one declaration (portal/api/openapi.py merges them with the few hand-written
shared parts: the error envelope, the 503 answer, the Idempotency-Key header).

Why pydantic and not APIFlask/flask-smorest: those replace Flask's routing and the
blueprint's error handling with their own, so every route and the error envelope would
change at once; spectree would add a second decorator layer over the same pydantic
models. pydantic v2 alone gives the JSON Schema (`model_json_schema`, 2020-12, which
OpenAPI 3.1 uses as is) and the validation, and leaves the routes as they are.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from portal.services import ServiceError

log = logging.getLogger(__name__)
REF = "#/components/schemas/{model}"


def _open(schema: dict) -> None:
    """Extra fields are allowed but not advertised: the document says nothing about them
    (JSON Schema's default), not `additionalProperties: true`; a model that forbids
    them keeps `additionalProperties: false`."""
    if schema.get("additionalProperties") is True:
        del schema["additionalProperties"]


class Out(BaseModel):
    """An answer. Strict: a value of another type is a bug in the route, not something to
    convert. Extra fields pass through unchanged (the response-validation test names
    any that the document lacks); fields the route did not send stay absent."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra=_open)

    @classmethod
    def dump(cls, data: dict) -> dict:
        """`data` as this model serialises it. A mismatch is logged and `data` is answered
        as it is: an API client gets what it always got, the log and the tests say why."""
        try:
            return cls.model_validate(data).model_dump(mode="json", exclude_unset=True,
                                                       by_alias=True)
        except ValidationError as exc:
            log.error("%s does not match its schema: %s", cls.__name__, exc)
            return data

    @classmethod
    def dump_all(cls, items) -> list[dict]:
        return [cls.dump(item) for item in items]


class In(BaseModel):
    """A request body. Unknown fields are ignored (as the services always did); the
    services keep the checks whose error codes clients rely on."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_open)


def parse_body(model: type[In], body, code: str, messages: dict[str, str]) -> dict:
    """`body` validated by `model` (which forbids other fields), as a dict with its
    defaults; else ServiceError(`code`) with the message of the first wrong field in
    `model`'s order (`messages[field]`), an unknown field first of all."""
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object.", "invalid_body")
    fields = list(model.model_fields)
    unknown = sorted(k for k in body if k not in fields)
    if unknown:
        raise ServiceError(f"Unknown fields: {', '.join(unknown)} (allowed: "
                           f"{', '.join(fields)}).", code)
    try:
        return model.model_validate(body).model_dump()
    except ValidationError as exc:
        wrong = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        field = next((f for f in fields if f in wrong), fields[0])
        raise ServiceError(messages[field], code) from None


def check_fields(model: type[In], body: dict, errors: dict[str, tuple[str, str]]) -> None:
    """Check the fields named in `errors` that `body` has against `model`'s declared
    types; a mismatch raises ServiceError(message, code) given for that field (the route's
    long-standing answer), so the model is the one statement of what the field takes."""
    for field, (message, code) in errors.items():
        if body.get(field) is None:
            continue
        try:
            TypeAdapter(model.model_fields[field].annotation).validate_python(body[field])
        except ValidationError:
            raise ServiceError(message, code) from None


class _Untitled(GenerateJsonSchema):
    """No `title` on each field: the field's name says it; models keep theirs."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def components(outputs: list[type[BaseModel]], inputs: list[type[BaseModel]]) -> dict:
    """The JSON Schemas of the models (and the models they use), by class name."""
    pairs = [(m, "serialization") for m in outputs] + [(m, "validation") for m in inputs]
    _, top = models_json_schema(pairs, ref_template=REF, schema_generator=_Untitled)
    return top.get("$defs", {})
