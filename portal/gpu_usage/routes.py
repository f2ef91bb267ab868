"""The overview page and the vendored chart library. Thin: the rules are in
portal.services.gpu_usage."""

from babel.dates import get_day_names
from flask import abort, render_template, request, send_file
from flask_babel import get_locale
from flask_login import current_user, login_required

from portal.config import REPO_ROOT
from portal.gpu_usage.blueprint import bp
from portal.services import ServiceError
from portal.services import gpu_usage as svc

# chart.js comes from npm (package-lock.json), served from our own origin (CSP 'self').
VENDOR = {"chart.js": REPO_ROOT / "node_modules/chart.js/dist/chart.umd.js"}


@bp.get("/")
@login_required
def index():
    error = None
    try:
        days = svc.parse_days(request.args.get("days"))
    except ServiceError as exc:
        error, days = str(exc.message), 7
    data = svc.overview(current_user, days)
    names = get_day_names("abbreviated", locale=get_locale())
    peak_days = ", ".join(names[d] for d in data["peak_hours"]["weekdays"]) or "—"
    return render_template("gpu_usage/index.html", data=data, error=error, days=days,
                           by_hour=svc.by_hour_of_day(data["hours"]), max_days=svc.MAX_DAYS,
                           peak_days=peak_days)


@bp.get("/vendor/<name>")
@login_required
def vendor(name: str):
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)
