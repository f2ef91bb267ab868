"""F4 custom images: the project's images committed from sessions, and the commit form."""

from flask import Blueprint

bp = Blueprint("custom_images", __name__, url_prefix="/custom-images")

from portal.custom_images import routes  # noqa: E402,F401
