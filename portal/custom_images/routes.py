"""Custom images pages. Thin: every rule is in portal.services.custom_images."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.custom_images.blueprint import bp
from portal.custom_images.forms import CommitForm, DeleteForm
from portal.projects.helpers import attempt, form_expired, guarded
from portal.services import ServiceError
from portal.services import custom_images as svc
from portal.services import sessions as sessionsvc


@bp.get("/")
@login_required
def index():
    images = svc.project_images(current_user)
    usage = {i.id: svc.sessions_using(i) for i in images if i.state == "ready"}
    refresh = any(i.state in ("queued", "building") for i in images)
    return render_template("custom_images/index.html", images=images, usage=usage,
                           refresh=refresh, delete_form=DeleteForm(), rule=svc)


@bp.get("/<int:image_id>")
@login_required
def detail(image_id: int):
    image = guarded(lambda: svc.get_image(current_user, image_id))
    return render_template("custom_images/detail.html", image=image,
                           usage=svc.sessions_using(image) if image.state == "ready" else [],
                           delete_form=DeleteForm())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    session_id = request.values.get("session", type=int)
    if not session_id:
        abort(404)
    session = guarded(lambda: sessionsvc.get_session(current_user, session_id))
    form = CommitForm()
    if request.method == "GET":
        form.framework.data = session.framework
        form.services.data = list(session.services)
        form.name.data = ""
    elif not form.validate_on_submit():
        form_expired()
    else:
        data = {k: getattr(form, k).data for k in (
            "display_name", "description", "name", "tag", "framework", "services")}
        try:
            image = svc.commit(current_user, session.id, data)
        except ServiceError as exc:
            if exc.status == 404:
                abort(404)
            flash(str(exc.message), "error")
        else:
            flash(_("Building the image %(key)s.", key=image.key), "info")
            return redirect(url_for("custom_images.detail", image_id=image.id))
    return render_template("custom_images/new.html", form=form, session=session, rule=svc)


@bp.post("/<int:image_id>/delete")
@login_required
def delete(image_id: int):
    if not DeleteForm().validate_on_submit():
        form_expired()
    else:
        attempt(lambda: svc.delete(current_user, image_id), _("Image deleted."))
    return redirect(url_for("custom_images.index"))
