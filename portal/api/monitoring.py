"""/api/v1/sessions/<id>/metrics: a session's monitoring series (F3).

Same permission as GET /sessions/<id> (the owner; project managers for their members'
sessions; admins). Answers from the database the worker fills (portal.services.monitoring),
never from the user's files, so polling it costs the cluster nothing.
"""

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.monitoring_openapi import register
from portal.api.schemas.monitoring import SessionMetrics
from portal.services import monitoring
from portal.services import sessions as svc

register()


@bp.get("/sessions/<int:session_id>/metrics")
@token_required
def session_metrics(session_id: int):
    session = svc.get_session(g.api_user, session_id, manage=True)
    return jsonify(SessionMetrics.dump(monitoring.series(session,
                                                         request.args.get("range", "1h"))))
