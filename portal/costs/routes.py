"""Cost analysis and prices pages. Thin: the rules are in portal.services.costs/prices."""

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.errors import AdapterError
from adapters.factory import format_weights, same_weights
from portal.auth.decorators import admin_required
from portal.config import REPO_ROOT
from portal.costs.blueprint import bp
from portal.costs.forms import PriceForm
from portal.projects.helpers import attempt, form_expired
from portal.services import ServiceError, prices
from portal.services import costs as svc

# chart.js comes from npm (package-lock.json), served from our own origin (no CDN).
CHART_JS = REPO_ROOT / "node_modules/chart.js/dist/chart.umd.js"
SERVICE_NAMES = {"session": "Session", "job": "Job", "schedule": "Scheduled job",
                 "shell": "Shell (login node)"}


def _report():
    """(report or None, error message or None) for the request's filters."""
    try:
        query = svc.parse_query(request.args)
        return svc.report(current_user, query), None
    except ServiceError as exc:
        return None, str(exc.message)


@bp.get("/costs/")
@login_required
def index():
    report, error = _report()
    if report is None:
        query = svc.parse_query({})
        report = svc.CostReport(query=query, accounts=svc.visible_accounts(current_user))
    return render_template("costs/index.html", report=report, error=error, args=request.args,
                           periods=svc.PERIODS, groups=svc.GROUPS, services=svc.SERVICES,
                           service_names={k: _(v) for k, v in SERVICE_NAMES.items()},
                           scale=prices.billing_scale(), table_rows=svc.TABLE_ROWS)


@bp.get("/costs/export.csv")
@login_required
def export_csv():
    report, error = _report()
    if report is None:
        return Response(error + "\n", status=400, mimetype="text/plain")
    q = report.query
    name = f"costs-{q.start}-{q.end}-{q.period}-{q.group}.csv"
    return Response(svc.to_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/costs/vendor/chart.js")
@login_required
def chart_js():
    if not CHART_JS.is_file():
        abort(404)
    return send_file(CHART_JS, max_age=3600)


@bp.route("/admin/prices/", methods=["GET", "POST"])
@admin_required
def prices_page():
    form = PriceForm(formdata=None if request.method == "GET" else request.form)
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                form_expired()
            else:
                flash(_("Give a resource and a price."), "error")
        elif attempt(lambda: prices.set_price(current_user, form.resource.data,
                                              form.hourly.data),
                     _("Price of %(resource)s saved.", resource=form.resource.data.strip())):
            return redirect(url_for("costs.prices_page"))
    plan, plan_error = {}, None
    try:
        plan = prices.plan()
    except AdapterError as exc:
        plan_error = exc.message
    weights = [{"partition": name, "have": format_weights(have) or "—",
                "want": format_weights(want) or "—", "same": same_weights(have, want)}
               for name, (have, want) in sorted(plan.items())]
    return render_template("costs/prices.html", form=form, current=prices.current(),
                           history=prices.history(50), weights=weights,
                           weights_error=plan_error, applying=prices.applying(),
                           scale=prices.billing_scale())


@bp.post("/admin/prices/apply")
@admin_required
def prices_apply():
    from flask_wtf import FlaskForm

    if not FlaskForm().validate_on_submit():
        form_expired()
        return redirect(url_for("costs.prices_page"))
    try:
        changed = prices.sync_weights(force=True)
    except AdapterError as exc:
        flash(_("Slurm did not take the weights: %(why)s", why=exc.message), "error")
    else:
        flash(_("Billing weights applied to %(parts)s.", parts=", ".join(changed))
              if changed else _("Slurm's billing weights already match the prices."), "info")
    return redirect(url_for("costs.prices_page"))
