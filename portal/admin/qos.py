"""Admin: QOS list, create, edit and delete (refused while a project uses the QOS)."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.admin.blueprint import bp
from portal.admin.forms import QosForm
from portal.auth.decorators import admin_required
from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError
from portal.services import qos as qos_service


@bp.route("/qos/", methods=["GET", "POST"])
@admin_required
def qos_list():
    form = QosForm(formdata=None if request.method == "GET" else request.form)
    if request.method == "POST":
        if not form.validate_on_submit():
            form_expired()
        elif attempt(lambda: qos_service.create_qos(current_user, form.name.data, form.values()),
                     _("QOS %(name)s created.", name=form.name.data)):
            return redirect(url_for("admin.qos_list"))
    try:
        items, error = qos_service.list_qos(current_user), None
    except ServiceError as exc:
        items, error = [], exc.message
    return render_template("admin/qos.html", items=items, error=error, form=form,
                           delete_form=FlaskForm(formdata=None))


@bp.route("/qos/<name>", methods=["GET", "POST"])
@admin_required
def qos_edit(name: str):
    view = guarded(lambda: qos_service.get_qos(current_user, name))
    if request.method == "POST":
        form = QosForm()
        if not form.validate_on_submit():
            form_expired()
        elif attempt(lambda: qos_service.update_qos(current_user, name, form.values()),
                     _("QOS %(name)s saved.", name=name)):
            return redirect(url_for("admin.qos_list"))
        return redirect(url_for("admin.qos_edit", name=name))
    form = QosForm(data={**view.as_dict(), "grp_gpus_by_model": ", ".join(
        f"{m}={n}" for m, n in sorted(view.grp_gpus_by_model.items()))})
    return render_template("admin/qos_edit.html", qos=view, form=form)


@bp.post("/qos/<name>/delete")
@admin_required
def qos_delete(name: str):
    if not FlaskForm().validate_on_submit():
        form_expired()
    else:
        attempt(lambda: qos_service.delete_qos(current_user, name),
                _("QOS %(name)s deleted.", name=name))
    return redirect(url_for("admin.qos_list"))
