"""Key pages. Thin: every rule is in portal.services.keys.

The private key of a new pair leaves the portal exactly once, as the body of the create
POST's response (an attachment, `Cache-Control: no-store`); nothing keeps a copy — not
the database, not the logs, not the (cookie) session, which only gets a flash message.
"""

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from portal.keys.blueprint import bp
from portal.keys.forms import CreateKeyForm, ImportKeyForm
from portal.services import ServiceError, keys


def _to_list():
    return redirect(url_for("keys.index"))


def _form_expired():
    flash(_("The form expired. Please try again."), "error")
    return _to_list()


@bp.get("/")
@login_required
def index():
    owned = keys.list_keys(current_user)
    return render_template(
        "keys/index.html",
        keys=owned,
        usage={k.id: keys.key_usage(k) for k in owned},
        type_label=keys.type_label,
        create_form=CreateKeyForm(formdata=None),
        import_form=ImportKeyForm(formdata=None),
    )


@bp.post("/create")
@login_required
def create():
    form = CreateKeyForm()
    if not form.validate_on_submit():
        return _form_expired()
    try:
        key, private_key = keys.create_key(current_user, form.name.data, form.key_type.data)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return _to_list()
    filename = keys.private_key_filename(key)
    flash(
        _("Key %(name)s created. Its private key was downloaded as %(file)s; keep it safe, "
          "it will not be offered again.", name=key.name, file=filename),
        "info",
    )
    return _attachment(private_key, filename, "application/octet-stream")


@bp.post("/import")
@login_required
def import_key():
    form = ImportKeyForm()
    if not form.validate_on_submit():
        return _form_expired()
    try:
        key = keys.import_key(current_user, form.name.data, form.public_key.data)
    except ServiceError as exc:
        flash(str(exc.message), "error")
    else:
        flash(_("Key %(name)s imported (%(fp)s).", name=key.name, fp=key.fingerprint), "info")
    return _to_list()


@bp.get("/<int:key_id>/public")
@login_required
def public_key(key_id: int):
    key = _own_key(key_id)
    line = f"{key.public_key} {key.comment}".strip() + "\n"
    return _attachment(line, keys.private_key_filename(key) + ".pub", "text/plain")


@bp.route("/<int:key_id>/delete", methods=["GET", "POST"])
@login_required
def delete(key_id: int):
    key = _own_key(key_id)
    form = FlaskForm()
    if form.validate_on_submit():
        name = key.name
        try:
            keys.delete_key(current_user, key_id)
        except ServiceError as exc:
            flash(str(exc.message), "error")
        else:
            flash(_("Key %(name)s deleted.", name=name), "info")
        return _to_list()
    return render_template(
        "keys/delete.html", key=key, form=form, usage=keys.key_usage(key),
        type_label=keys.type_label,
    )


def _own_key(key_id: int):
    try:
        return keys.get_key(current_user, key_id)
    except ServiceError:
        abort(404)


def _attachment(text: str, filename: str, mimetype: str) -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
