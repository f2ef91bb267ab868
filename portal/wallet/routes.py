"""Wallet pages. Thin: every rule is in portal.services.wallet."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError
from portal.services import wallet as svc
from portal.services.slurm_reasons import describe
from portal.wallet import bp
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
