"""Which custom images a project has, and whether one may be started (issue #12).

Sessions, jobs and the image list read these; committing and building images
(portal/services/custom_images.py) works on sessions, so these two live apart from it
and the starting services do not import the commit code.
"""

from __future__ import annotations

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import CustomImage
from portal.services import ServiceError, image_store
from portal.services.users import current_membership

log = logging.getLogger(__name__)


def project_images(user, *, ready_only: bool = False) -> list[CustomImage]:
    """Custom images of the user's current project (newest first)."""
    membership = current_membership(user)
    if membership is None:
        return []
    stmt = select(CustomImage).where(CustomImage.project_id == membership.project_id)
    if ready_only:
        stmt = stmt.where(CustomImage.state == "ready")
    return list(db.session.scalars(stmt.order_by(CustomImage.id.desc())))


def verify_for_start(project_id: int, key: str, path: str) -> CustomImage:
    """The project's ready image `key`, after checking that its file at `path` is still the
    one committed (the portal's, read-only, the recorded SHA-256). Called before a session
    or job is submitted from it. Raises ServiceError: image_not_allowed, image_unsealed
    (committed before issue #12), image_changed, image_store_unsafe."""
    name, _, tag = (key or "").partition(":")
    image = db.session.scalar(select(CustomImage).where(
        CustomImage.project_id == project_id, CustomImage.name == name,
        CustomImage.tag == tag, CustomImage.state == "ready"))
    if image is None or image.path != path:
        raise ServiceError(_l("The image %(key)s does not exist or is not one you may use.",
                              key=str(key)[:64]), "image_not_allowed")
    if not image.digest:
        raise ServiceError(_l("The custom image %(key)s was committed before images were "
                              "sealed and checked, so it is not started. Commit it again "
                              "from a session started with \"Keep changes to the "
                              "container\".", key=image.key), "image_unsealed")
    try:
        image_store.verify(image.path, image.digest)
    except image_store.ImageChanged as exc:
        log.error("custom image %s (id %s) failed its check: %s", image.key, image.id,
                  exc.message)
        raise ServiceError(_l("The custom image %(key)s has changed since it was committed, "
                              "so nothing was started from it: %(why)s Tell an admin; "
                              "delete the image and commit it again.", key=image.key,
                              why=exc.message), "image_changed") from None
    except OSError as exc:
        raise ServiceError(_l("The custom image %(key)s could not be checked: %(error)s",
                              key=image.key, error=exc.strerror or str(exc)),
                           "image_changed") from None
    return image
