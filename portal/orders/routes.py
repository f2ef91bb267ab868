"""Order and approval pages. Thin: the rules are in portal.services.orders/approvals."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.orders.blueprint import bp
from portal.orders.forms import DecisionForm
from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError
from portal.services import approvals as apsvc
from portal.services import orders as svc
from portal.services.jobs import get_backend


@bp.context_processor
def order_words():
    """Orders in words on these pages (portal.services.orderdisplay), not `key=value`."""
    from portal.services import orderdisplay

    return {"spec_items": orderdisplay.spec_items, "detail_items": orderdisplay.detail_items,
            "kind_text": orderdisplay.kind_text, "approval_text": orderdisplay.approval_text,
            "state_text": orderdisplay.state_text, "event_text": orderdisplay.event_text}


def ref_url(order):
    """The page of the session or job the order became (None: no such page)."""
    endpoint = "sessions.detail" if order.kind == "session" else "jobs.detail"
    key = "session_id" if order.kind == "session" else "job_id"
    try:
        return url_for(endpoint, **{key: order.ref_id})
    except Exception:  # noqa: BLE001 - that page is not there: no link
        return None


@bp.get("/")
@login_required
def index():
    error, orders = None, []
    try:
        orders = svc.list_orders(current_user, request.args)
    except ServiceError as exc:
        error = str(exc.message)
    return render_template("orders/index.html", orders=orders, error=error, args=request.args,
                           ref_url=ref_url, live=svc.live_states(orders),
                           limit=svc.LIST_LIMIT)


@bp.get("/<int:order_id>")
@login_required
def detail(order_id: int):
    order = guarded(lambda: svc.get_order(current_user, order_id))
    return render_template("orders/detail.html", order=order, ref_url=ref_url,
                           live=svc.live_states([order]),
                           may_decide=order.approval == "pending"
                           and apsvc.may_decide(current_user, order),
                           form=DecisionForm(formdata=None))


@bp.get("/approvals")
@login_required
def approvals():
    return render_template("orders/approvals.html", orders=apsvc.pending(current_user))


@bp.get("/approvals/<int:order_id>")
@login_required
def approval(order_id: int):
    order = guarded(lambda: apsvc.get_for_decision(current_user, order_id))
    return render_template("orders/detail.html", order=order, ref_url=ref_url,
                           live=svc.live_states([order]),
                           may_decide=order.approval == "pending",
                           form=DecisionForm(formdata=None))


@bp.post("/approvals/<int:order_id>/approve")
@login_required
def approve(order_id: int):
    if not DecisionForm().validate_on_submit():
        form_expired()
    else:
        attempt(lambda: apsvc.approve(current_user, order_id, get_backend()),
                _("Approved: the work starts as soon as Slurm has room."))
    return redirect(url_for("orders.approval", order_id=order_id))


@bp.post("/approvals/<int:order_id>/reject")
@login_required
def reject(order_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        form_expired()
    else:
        attempt(lambda: apsvc.reject(current_user, order_id, form.message.data, get_backend()),
                _("Rejected: the job was cancelled and the requester sees your message."))
    return redirect(url_for("orders.approval", order_id=order_id))
