"""Public images (F13): registered by platform admins, offered to everybody.

An image is a name (the key sessions and jobs store), a path the runtime can start on
the compute nodes (a Charliecloud directory or an Apptainer SIF/sandbox), a framework
label, the services a session of it offers (jupyter, ssh, webterm) and how its SSH
signs in (key, password). Pages, API and the `portal image` CLI all call these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.runtime import make_runtime
from portal import db
from portal.models import PublicImage
from portal.models.sessions import AUTH_METHODS, SERVICES
from portal.services import NotFound, ServiceError, audit
from portal.services.names import clean_name

IMAGE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def list_images() -> list[PublicImage]:
    return list(db.session.scalars(select(PublicImage).order_by(PublicImage.name)))


def enabled_images() -> list[PublicImage]:
    stmt = select(PublicImage).where(PublicImage.enabled.is_(True)).order_by(PublicImage.name)
    return list(db.session.scalars(stmt))


def get_image(image_id: int) -> PublicImage:
    image = db.session.get(PublicImage, image_id)
    if image is None:
        raise NotFound(_l("No such image."))
    return image


def _choices(values: Iterable[str] | str | None, allowed: tuple, code: str) -> list[str]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[,\s]+", values) if v]
    chosen = list(dict.fromkeys(str(v).strip().lower() for v in (values or [])))
    bad = [v for v in chosen if v not in allowed]
    if bad:
        raise ServiceError(
            _l("Unknown choice %(value)s; choose from %(allowed)s.",
               value=bad[0][:32], allowed=", ".join(allowed)),
            code,
        )
    return [v for v in allowed if v in chosen]


def _check_path(path: object) -> str:
    """An absolute normalised path without control characters, ':' or ','.

    The runtimes split bind and image specifications on those; checking existence is
    `check_exists`' job (the portal host may not see the compute nodes' file systems).
    """
    if not isinstance(path, str) or not path.startswith("/") or os.path.normpath(path) != path:
        raise ServiceError(_l("The image path must be an absolute path."), "invalid_path")
    if _CONTROL.search(path) or any(ch in path for ch in ":,") or len(path) > 1024:
        raise ServiceError(_l("The image path contains characters that cannot be used."),
                           "invalid_path")
    return path


def check_exists(path: str) -> None:
    """Refuse a path the configured runtime cannot start, when IMAGE_CHECK_PATH is on."""
    if not current_app.config.get("IMAGE_CHECK_PATH", True):
        return
    runtime = make_runtime(current_app.config.get("CONTAINER_RUNTIME", "charliecloud"))
    if not runtime.image_exists(path):
        raise ServiceError(
            _l("%(path)s is not an image the %(runtime)s runtime can start.",
               path=path, runtime=runtime.name),
            "image_missing",
        )


def register_image(
    name: str,
    path: str,
    *,
    framework: str = "",
    display_name: str = "",
    description: str = "",
    services: Iterable[str] | str = ("jupyter", "ssh", "webterm"),
    auth_methods: Iterable[str] | str = ("key",),
    shell: str = "/bin/bash",
    actor=None,
) -> PublicImage:
    """Register a public image. Raises ServiceError (invalid_image_name, duplicate,
    invalid_path, image_missing, invalid_service, invalid_auth, invalid_name)."""
    name = str(name or "").strip()
    if not IMAGE_NAME_RE.fullmatch(name):
        raise ServiceError(
            _l("An image name is 1–64 characters: lower-case letters, digits, '.', '_' or '-'."),
            "invalid_image_name",
        )
    if db.session.scalar(select(PublicImage.id).where(PublicImage.name == name)):
        raise ServiceError(_l("An image named %(name)s exists already.", name=name), "duplicate")
    path = _check_path(path)
    check_exists(path)
    chosen_services = _choices(services, SERVICES, "invalid_service")
    if not chosen_services:
        raise ServiceError(_l("Choose at least one service."), "invalid_service")
    chosen_auth = _choices(auth_methods, AUTH_METHODS, "invalid_auth")
    if "ssh" in chosen_services and not chosen_auth:
        raise ServiceError(_l("An image that offers SSH needs a sign-in method."), "invalid_auth")
    image = PublicImage(
        name=name,
        display_name=clean_name(display_name, 120) if str(display_name).strip() else name,
        path=path,
        framework=clean_name(framework) if str(framework).strip() else "",
        description=str(description or "")[:2000],
        services=chosen_services,
        auth_methods=chosen_auth if "ssh" in chosen_services else [],
        shell=_check_path(shell or "/bin/bash"),
        enabled=True,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(image)
    db.session.flush()
    audit.record("image.register", f"image:{image.id}", actor=actor, name=name, path=path,
                 services=chosen_services, auth=image.auth_methods)
    return image


def set_enabled(image_id: int, enabled: bool, actor=None) -> PublicImage:
    """Offer (or stop offering) an image; running sessions are not affected."""
    image = get_image(image_id)
    image.enabled = bool(enabled)
    audit.record("image.enable" if enabled else "image.disable", f"image:{image.id}",
                 actor=actor, name=image.name)
    return image


def delete_image(image_id: int, actor=None) -> None:
    """Unregister an image (its files stay). Sessions keep the path they started with."""
    image = get_image(image_id)
    db.session.delete(image)
    audit.record("image.delete", f"image:{image_id}", actor=actor, name=image.name)
