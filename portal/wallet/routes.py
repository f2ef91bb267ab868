"""Wallet pages. Thin: every rule is in portal.services.wallet."""

from flask import jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError
from portal.services import estimate as estimates
from portal.services import wallet as svc
from portal.services.slurm_reasons import describe
from portal.wallet.blueprint import bp
from portal.wallet.forms import TopUpForm


@bp.get("/")
@login_required
def index():
    projects = svc.visible_projects(current_user)
    balances = svc.balances([p.id for p in projects])
    if len(projects) == 1 and not current_user.is_admin:
        return redirect(url_for("wallet.detail", project_id=projects[0].id))
    return render_template("wallet/index.html", projects=projects, balances=balances)


@bp.get("/<int:project_id>")
@login_required
def detail(project_id: int):
    project = guarded(lambda: svc.get_project(current_user, project_id))
    error = None
    try:
        filters = svc.parse_filters(request.args)
    except ServiceError as exc:
        error, filters = str(exc.message), svc.Filters()
    listing = svc.transactions(project, filters)
    waiting = svc.waiting_for_budget(project)
    return render_template(
        "wallet/detail.html", project=project, balance=svc.balance(project.id),
        listing=listing, filters=filters, filter_error=error, args=request.args,
        budget=svc.budget_view(project), waiting=waiting,
        budget_reason=describe("QOSGrpBillingMinutes"),
        form=TopUpForm(formdata=None), kinds=svc.KINDS, services=svc.SERVICES,
        order_url=_order_url, who=svc.created_by_name,
    )


def _order_url(order_id):
    from flask import current_app

    for endpoint in ("orders.detail", "account.order_detail"):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, order_id=order_id)
            except Exception:  # noqa: BLE001 - another parameter name: no link
                return None
    return None


@bp.post("/<int:project_id>/topups")
@login_required
def top_up(project_id: int):
    guarded(lambda: svc.get_project(current_user, project_id))
    form = TopUpForm()
    if not form.validate_on_submit():
        form_expired()
    else:
        attempt(lambda: svc.top_up(current_user, project_id, form.amount.data,
                                   form.note.data),
                _("Top-up recorded."))
    return redirect(url_for("wallet.detail", project_id=project_id))


@bp.get("/estimate")
@login_required
def estimate():
    """JSON for the create forms: the price per hour of what is typed so far, what the
    wallet covers and whether the budget covers the time limit (issue #16)."""
    result = _estimate(request.args.get("kind", "job"), request.args)
    if result is None:
        return jsonify({"lines": [], "known": False}), 404
    return jsonify(result)


def _estimate(kind: str, values) -> dict | None:
    from portal.services.users import current_membership

    if not current_user.is_authenticated:
        return None
    membership = current_membership(current_user)
    return None if membership is None else estimates.estimate(membership, values or {}, kind)


@bp.app_context_processor
def price_helpers():
    """`price_estimate(kind, values)` for the create forms' first render (the page's
    script refreshes it as fields change) and `money` for amounts."""
    return {"price_estimate": _estimate, "money": estimates.format_money}
