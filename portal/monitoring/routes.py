"""The session detail page's charts poll /monitoring/sessions/<id>.json (the same series
as the API, same permission as the detail page); chart.js is served from node_modules
(installed from the npm lock file: no CDN, decision 11)."""

from flask import abort, jsonify, request, send_file
from flask_login import current_user, login_required

from portal.config import REPO_ROOT
from portal.monitoring.blueprint import bp
from portal.services import ServiceError, monitoring
from portal.services import sessions as svc

CHART_JS = REPO_ROOT / "node_modules/chart.js/dist/chart.umd.js"


@bp.route("/sessions/<int:session_id>.json")
@login_required
def session_metrics(session_id: int):
    try:
        session = svc.get_session(current_user, session_id, manage=True)
    except ServiceError:
        abort(404)
    try:
        data = monitoring.series(session, request.args.get("range", "1h"))
    except ServiceError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), 400
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/vendor/chart.js")
@login_required
def chart_js():
    if not CHART_JS.is_file():
        abort(404)
    return send_file(CHART_JS, max_age=3600)
