"""Container images a user may run: admin-registered public images, then configured ones.

Public images are registered by platform admins (F13; `portal.services.public_images`,
table `public_images`) and read from the database here. The configured list (`IMAGES`
config key, default: the dev cluster's base image) is kept for images not registered in
the database, so a fresh install can still run batch jobs. Custom images (F4,
`portal.services.custom_images`) are the ready images of the user's current project, with
the key `name:tag` (type "custom").
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from portal.config import VAR_DIR
from portal.services import ServiceError

PUBLIC = "public"
CUSTOM = "custom"
IMAGE_TYPES = (PUBLIC, CUSTOM)


@dataclass(frozen=True)
class Image:
    """An image offered in the forms: `key` is what jobs and templates store."""

    key: str
    name: str
    path: str
    framework: str
    type: str = PUBLIC
    shell: str = "/bin/bash"
    # What a session of this image offers (jupyter, ssh, webterm) and how SSH signs in.
    services: tuple[str, ...] = ("webterm",)
    auth: tuple[str, ...] = ()


DEFAULT_IMAGES = (
    {"key": "base", "name": "Debian base", "path": str(VAR_DIR / "images" / "base"),
     "framework": "Python 3", "type": PUBLIC, "shell": "/bin/bash"},
)


def _configured() -> list[Image]:
    raw = DEFAULT_IMAGES
    if has_app_context():
        raw = current_app.config.get("IMAGES") or DEFAULT_IMAGES
    return [Image(**{**entry, **_tuples(entry)}) for entry in raw]


def _tuples(entry: dict) -> dict:
    """Lists from a TOML config become tuples (the dataclass is frozen and hashable)."""
    return {k: tuple(entry[k]) for k in ("services", "auth") if k in entry}


def _registered() -> list[Image]:
    """Enabled public images from the database (none outside an app context)."""
    if not has_app_context():
        return []
    from portal.services.public_images import enabled_images

    return [
        Image(key=row.name, name=row.display_name or row.name, path=row.path,
              framework=row.framework, type=PUBLIC, shell=row.shell,
              services=tuple(row.services or ()), auth=tuple(row.auth_methods or ()))
        for row in enabled_images()
    ]


def _custom(user) -> list[Image]:
    """Ready custom images of the user's current project (none outside an app context)."""
    if not has_app_context() or user is None:
        return []
    from portal.services.custom_image_catalog import project_images

    return [
        Image(key=row.key, name=row.display_name or row.key, path=row.path,
              framework=row.framework, type=CUSTOM, shell=row.shell,
              services=tuple(row.services or ()), auth=tuple(row.auth_methods or ()))
        for row in project_images(user, ready_only=True)
    ]


def available_images(user, image_type: str | None = None) -> list[Image]:
    """The images `user` may run: public ones, then the project's custom images (F4),
    optionally of one type.

    Registered images come first; a configured image with the same key is left out.
    """
    registered = _registered()
    keys = {image.key for image in registered}
    images = registered + [i for i in _configured() if i.key not in keys]
    if image_type in (None, CUSTOM):
        images += _custom(user)
    return [i for i in images if image_type is None or i.type == image_type]


def get_image(user, key: str, image_type: str | None = None) -> Image:
    """The image `key` if `user` may use it. Raises ServiceError("image_not_allowed")."""
    if image_type is not None and image_type not in IMAGE_TYPES:
        raise ServiceError(_l("Unknown image type."), "invalid_image_type")
    for image in available_images(user, image_type):
        if image.key == key:
            return image
    if image_type is not None and any(i.key == key for i in available_images(user)):
        raise ServiceError(
            _l("%(key)s is not of the image type you chose: pick the other image type "
               "(public or custom image).", key=str(key)[:64]), "image_type_mismatch")
    raise ServiceError(
        _l("The image %(key)s does not exist or is not one you may use.", key=str(key)[:64]),
        "image_not_allowed",
    )
