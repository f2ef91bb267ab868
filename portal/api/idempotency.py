"""`Idempotency-Key` on every API POST (issue #13; the rules: portal/services/idempotency.py).

Hooked on the blueprint, so every POST route gets it without a decorator of its own. The
token is checked first by the same `token_required` the routes use (an unauthenticated
request is left to the route, which refuses it the same way). A replayed answer carries
`Idempotent-Replayed: true`.
"""

from __future__ import annotations

from flask import Response, g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.errors import error_response
from portal.services import ServiceError
from portal.services import idempotency as idem

HEADER = "Idempotency-Key"


@bp.before_request
def replay_or_claim():
    if request.method != "POST" or HEADER not in request.headers:
        return None
    if token_required(lambda: None)() is not None:
        return None  # not authenticated (or not allowed): the route answers that
    try:
        outcome = idem.begin(g.api_user, request.headers[HEADER], "POST", request.path,
                             request.get_data())
    except ServiceError as exc:
        return error_response(exc.code, str(exc.message), exc.status)
    if isinstance(outcome, idem.Claim):
        return None
    if outcome.status is None:  # the first request died after making this object
        _look_up(outcome.resource)
        response = _render(outcome.resource)
    else:
        response = Response(outcome.body, status=outcome.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.after_request
def store(response):
    claim = g.pop("idempotency_claim", None)
    if claim is not None:
        idem.finish(claim, response.status_code, response.get_data(as_text=True))
    return response


@bp.teardown_request
def forget(exc=None):
    """A request that raised past every handler: free its key unless it made something."""
    claim = g.pop("idempotency_claim", None)
    if claim is not None:
        idem.finish(claim, 500, "")


def _look_up(resource: str | None) -> None:
    """A job or session the dead first request made is looked up by its tag now and
    adopted (or failed, when Slurm can no longer get it); never submitted again."""
    kind = (resource or "").partition(":")[0]
    if kind == "job":
        from portal.services import jobsync

        jobsync.look_up_now(idem.load(resource))
    elif kind == "session":
        from portal.services import sessionsync

        sessionsync.look_up_now(idem.load(resource))


def _render(resource: str | None):
    obj = idem.load(resource)
    if resource and resource.startswith("job:"):
        from portal.api.jobs import job_json
        from portal.api.schemas.jobs import JobDetail

        return jsonify(JobDetail.dump(job_json(obj, full=True)))
    from portal.api.schemas.sessions import Session
    from portal.services.sessiondisplay import session_json

    return jsonify(Session.dump(session_json(obj)))
