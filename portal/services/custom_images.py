"""Custom images (F4): commit a running session's changed filesystem to a new image that
the members of the session's project can start.

How it works
------------
* Sessions keep their changes: the job script makes a per-session writable layer
  `<session dir>/rootfs` before the services start (`SessionScriptInput.writable_root`;
  Charliecloud: a private copy of the directory image, owned by the user and run with
  `ch-run --write`; Apptainer: an overlay directory, `--overlay`). It is removed when the
  job ends. Only for sessions started with "Keep changes to the container"
  (`Session.writable`, default off: the copy costs seconds of start-up and the image's size
  on disk); `commit` refuses the others (not_writable). `session_writable = false` stops
  the portal offering the choice.
* Commit (`commit`): the owner of a *running* session gives display name, description,
  image name and tag, image type (the framework it provides) and services. A row is
  recorded in state *queued*; `building_session_id` (unique) is the database-level guard
  that refuses a second commit of the same session while one is queued or building.
* Build (`worker_step` → `build`): the worker starts each queued build in a thread (at most
  BUILD_SLOTS at once). The image file is made **as the session's owner** (the files are
  theirs; the portal never reads a user's tree with its own rights) with the commands of the
  runtime adapter (`Runtime.commit_plan`: Charliecloud `mksquashfs` of the writable copy;
  Apptainer `apptainer build --sandbox` + the overlay + `apptainer build x.sif`), in
  `<session dir>/image-build-<id>` (the owner's). Progress = bytes in the build directory
  against the source's bytes (`du -sb`, every PROGRESS_INTERVAL s), shown as a percentage;
  states queued → building → ready | failed. The portal then copies that one file into its
  store, reading it as the owner (`image_store.store_file`), and records its SHA-256.
  On failure (disk full, the session ended, anything) the build directory is removed and
  the error said in words; the session is only read, never touched.
* Storage and permissions (issue #12, see `portal.services.image_store`): `image_store`
  (default `var/custom-images`) and its per-project folders are the portal's (root on the
  dev cluster), mode 0755, opened without following symlinks; an image is one file of the
  portal's, mode 0444: no user, the committer included, can change, replace or remove it.
  Its digest is checked before every session or job starts from it (`verify_for_start`).
  Modes inside the image are kept as they were (a 0600 file stays 0600); it is readable by
  all Unix users (a project has no Unix group here), and the portal offers it to its
  project's members only. Deleting is done by the portal (the creator or a manager asks).
* A build whose worker died (no heartbeat for STALE_AFTER) is marked failed and cleaned up.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from adapters import factory
from adapters.errors import AdapterError, CommandFailed
from adapters.factory import CommandRunner, UserFiles
from adapters.runtime import make_runtime
from portal import db
from portal.models import CustomImage, Session
from portal.models.sessions import SERVICES
from portal.services import Forbidden, NotFound, ServiceError, audit, image_store
from portal.services.core.membership import is_manager
from portal.services.custom_image_catalog import (  # noqa: F401 - custom_images.* for callers
    project_images,
    verify_for_start,
)
from portal.services.users import current_membership

log = logging.getLogger(__name__)

NAME_RULE = _l("An image name is 1–40 characters: lower-case letters, digits and . _ - "
               "(starting and ending with a letter or digit).")
TAG_RULE = _l("A tag is 1–20 characters: letters, digits and . _ - (not starting with "
              ". or -).")
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,38}[a-z0-9])?$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,19}$")
BUILD_SLOTS = 2
PROGRESS_INTERVAL = 1.0
STALE_AFTER = timedelta(minutes=2)
BUILD_TIMEOUT = 6 * 3600.0
OPEN_SESSION_STATES = ("submitting", "pending", "starting", "running", "deleting")

_running: dict[int, threading.Thread] = {}
_lock = threading.Lock()


def valid_name(value: object) -> str:
    """The image name, or ServiceError("invalid_image_name") saying the rule."""
    name = value.strip() if isinstance(value, str) else ""
    if not NAME_RE.fullmatch(name):
        raise ServiceError(str(NAME_RULE), "invalid_image_name")
    return name


def valid_tag(value: object) -> str:
    """The tag (default "latest"), or ServiceError("invalid_image_tag") saying the rule."""
    tag = value.strip() if isinstance(value, str) else ""
    tag = tag or ("latest" if value in (None, "") else tag)
    if not TAG_RE.fullmatch(tag):
        raise ServiceError(str(TAG_RULE), "invalid_image_tag")
    return tag


def _text(data, key: str, limit: int, default: str = "") -> str:
    value = data.get(key)
    value = default if value is None else value
    if not isinstance(value, str):
        raise ServiceError(_l("%(field)s must be text.", field=key), "invalid_" + key)
    value = value.strip()
    if len(value) > limit:
        raise ServiceError(_l("%(field)s is longer than %(n)s characters.", field=key, n=limit),
                           "invalid_" + key)
    return value


def _services(data, default) -> list[str]:
    raw = data.get("services")
    if raw is None or raw == "" or raw == []:
        raw = list(default)
    if isinstance(raw, str):
        raw = [s for s in re.split(r"[,\s]+", raw) if s]
    if not isinstance(raw, list | tuple) or not all(isinstance(s, str) for s in raw):
        raise ServiceError(_l("Services must be a list."), "invalid_services")
    bad = [s for s in raw if s not in SERVICES]
    if bad or not raw:
        raise ServiceError(_l("Services are any of: %(known)s.", known=", ".join(SERVICES)),
                           "invalid_services")
    return [s for s in SERVICES if s in raw]


def _runner() -> CommandRunner:
    return factory.make_runner(current_app.config)


def store_root() -> str:
    return image_store.store_root()


# --- reading ----------------------------------------------------------------------------


def get_image(user, image_id: int) -> CustomImage:
    """An image of a project the user is a member of (current project)."""
    image = db.session.get(CustomImage, image_id)
    membership = current_membership(user)
    if image is None or membership is None or image.project_id != membership.project_id:
        raise NotFound(_l("No such custom image."))
    return image


def sessions_using(image: CustomImage) -> list[Session]:
    """Open sessions of the project started from `image`."""
    stmt = select(Session).where(
        Session.project_id == image.project_id, Session.image_type == "custom",
        Session.image == image.key, Session.state.in_(OPEN_SESSION_STATES))
    return list(db.session.scalars(stmt))


# --- commit -----------------------------------------------------------------------------


def commit(user, session_id: int, data) -> CustomImage:
    """Queue a commit of the user's running session `session_id` to a new image.

    Raises NotFound (not the user's session), ServiceError: invalid_image_name/_tag,
    session_stopping (409), session_not_running (409), not_writable, image_exists (409),
    commit_in_progress (409).
    """
    from portal.services import sessions as sessionsvc

    session = sessionsvc.get_session(user, session_id)
    name, tag = valid_name(data.get("name")), valid_tag(data.get("tag"))
    display_name = _text(data, "display_name", 120) or f"{name}:{tag}"
    description = _text(data, "description", 2000)
    framework = _text(data, "framework", 64, session.framework) or session.framework
    services = _services(data, session.services)
    if session.state == "deleting" or session.delete_requested_at is not None:
        raise ServiceError(_l("The session is stopping; an image can only be made from a "
                              "running session."), "session_stopping", 409)
    if session.state != "running":
        raise ServiceError(_l("The session is %(state)s; an image can only be made from a "
                              "running session.", state=session.state),
                           "session_not_running", 409)
    if not session.writable:
        raise ServiceError(_l("This session does not keep changes to its container, so there "
                              "is nothing to save. Start a new session with \"Keep changes to "
                              "the container\" ticked to make a custom image."),
                           "not_writable")
    data_in = sessionsvc.script_input(session)
    root = data_in.writable_root
    files = factory.make_user_files(_runner())
    try:
        exists = files.size(data_in.user, root) is not None
    except AdapterError:
        exists = False
    if not exists:
        raise ServiceError(_l("This session was started without a writable copy of its "
                              "image; start a new session to make custom images."),
                           "not_writable")
    image = CustomImage(
        project_id=session.project_id, session_id=session.id, session_name=session.name,
        building_session_id=session.id, created_by_id=user.id, owner_unix=data_in.user,
        name=name, tag=tag, display_name=display_name, description=description,
        framework=framework, services=services,
        auth_methods=["key"] if "ssh" in services else [], shell=session.shell,
        base_image=session.image, base_path=session.image_path, source_root=root,
        runtime=data_in.runtime, state="queued")
    _insert(image, session)
    audit.record("image.commit", f"image:{image.id}", name=image.key,
                 session=session.id, session_name=session.name)
    return image


def _insert(image: CustomImage, session: Session) -> None:
    taken = db.session.scalar(select(CustomImage.id).where(
        CustomImage.project_id == image.project_id, CustomImage.name == image.name,
        CustomImage.tag == image.tag))
    if taken:
        raise ServiceError(_l("The project already has an image %(key)s.", key=image.key),
                           "image_exists", 409)
    db.session.add(image)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if "building_session_id" in str(exc.orig) or db.session.scalar(
                select(CustomImage.id).where(CustomImage.building_session_id == session.id)):
            raise ServiceError(_l("An image of the session %(name)s is already being made; "
                                  "wait until it is ready.", name=session.name),
                               "commit_in_progress", 409) from None
        raise ServiceError(_l("The project already has an image %(key)s.", key=image.key),
                           "image_exists", 409) from None


# --- delete -----------------------------------------------------------------------------


def delete(user, image_id: int) -> None:
    """Delete an image (its creator or a project manager). Refused while it builds or
    while sessions still use it (their names are said)."""
    image = get_image(user, image_id)
    if image.created_by_id != user.id and not is_manager(user, image.project_id) \
            and not user.is_admin:
        raise Forbidden(_l("Only the image's creator or a project manager may delete it."))
    if image.state in ("queued", "building"):
        raise ServiceError(_l("The image is still being built."), "image_building", 409)
    users = sessions_using(image)
    if users:
        raise ServiceError(_l("Sessions still use this image: %(names)s.",
                              names=", ".join(s.name for s in users)), "image_in_use", 409)
    if image.path:
        _remove_files(image)
    key = image.key
    db.session.delete(image)
    db.session.commit()
    audit.record("image.delete", f"image:{image_id}", name=key)


def _remove_files(image: CustomImage) -> None:
    """The portal removes the image from its store. Only where the folder is not one it can
    trust (an old sticky store not yet checked by the worker) is a pre-#12 tree removed as
    its owner, as it was then."""
    try:
        try:
            image_store.remove(image.path)
        except image_store.UnsafeStore:
            factory.make_user_files(_runner()).remove_tree(image.owner_unix, image.path)
    except (AdapterError, ValueError, OSError) as exc:
        raise ServiceError(_l("The image's files could not be removed: %(error)s",
                              error=getattr(exc, "message", None) or str(exc)),
                           "delete_failed") from None


# --- build ------------------------------------------------------------------------------

_checked_store: str | None = None


def check_store_once() -> list[str]:
    """`image_store.check_store` when this process has not checked the configured store yet
    (the worker's first cycle, or after the configuration named another store)."""
    global _checked_store
    root = store_root()
    if _checked_store == root:
        return []
    notes = image_store.check_store(root)
    _checked_store = root
    return notes


def worker_step() -> dict:
    """Check the store (once), fail builds whose worker died, then start queued builds in
    threads (cheap when idle)."""
    try:
        check_store_once()
    except (image_store.UnsafeStore, OSError, ValueError) as exc:
        log.error("custom image store %s: %s", store_root(), getattr(exc, "message", exc))
        return {"images_building": 0, "image_store_error": str(getattr(exc, "message", exc))}
    now = db.utcnow()
    with _lock:
        alive = {i for i, t in _running.items() if t.is_alive()}
    for image in db.session.scalars(select(CustomImage).where(CustomImage.state == "building")):
        if image.id not in alive and (image.heartbeat_at is None
                                      or now - image.heartbeat_at > STALE_AFTER):
            _cleanup(image)
            _fail(image, str(_l("The build stopped (the portal's worker restarted); "
                                "commit again.")))
    queued = list(db.session.scalars(select(CustomImage).where(
        CustomImage.state == "queued").order_by(CustomImage.id)))
    started = 0
    for image in queued:
        if len(alive) + started >= BUILD_SLOTS:
            break
        start_build(current_app._get_current_object(), image.id)
        started += 1
    return {"images_building": len(alive) + started}


def start_build(app, image_id: int) -> threading.Thread | None:
    """Claim a queued image (one UPDATE … WHERE state = 'queued', so two workers never
    build the same image) and build it in a thread; None when another worker claimed it."""
    now = db.utcnow()
    claimed = db.session.execute(
        update(CustomImage)
        .where(CustomImage.id == image_id, CustomImage.state == "queued")
        .values(state="building", started_at=now, heartbeat_at=now)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    thread = threading.Thread(target=_build_thread, args=(app, image_id),
                              name=f"image-build-{image_id}", daemon=True)
    with _lock:
        _running[image_id] = thread
    thread.start()
    return thread


def _build_thread(app, image_id: int) -> None:
    with app.app_context():
        try:
            build(image_id)
        except Exception:  # noqa: BLE001 - a build never takes the worker down
            log.exception("custom image %s: build crashed", image_id)
            image = db.session.get(CustomImage, image_id)
            if image is not None and image.state == "building":
                _cleanup(image)
                _fail(image, str(_l("The build failed unexpectedly; see the worker's log.")))
        finally:
            db.session.remove()
            with _lock:
                _running.pop(image_id, None)


def _du(runner: CommandRunner, user: str, path: str) -> int:
    try:
        out = runner.run(["du", "-sb", "--", path], as_user=user, check=False, timeout=120)
    except AdapterError:
        return 0
    try:
        return int(out.stdout.split()[0])
    except (IndexError, ValueError):
        return 0


def work_dir(image: CustomImage) -> str:
    """Where the owner makes the image file: next to the session's writable copy (the
    owner's own folder; the store is the portal's)."""
    return os.path.join(os.path.dirname(image.source_root), f"image-build-{image.id}")


def file_name(image: CustomImage, suffix: str) -> str:
    return f"{image.id}-{image.name}-{image.tag}{suffix}"


def final_path(image: CustomImage, suffix: str) -> str:
    return image_store.image_path(image.project.account, file_name(image, suffix))


def build(image_id: int) -> CustomImage:
    """Run one build to its end (ready or failed); called in the build thread."""
    image = db.session.get(CustomImage, image_id)
    runner = _runner()
    files = factory.make_user_files(runner)
    user = image.owner_unix
    runtime = make_runtime(image.runtime)
    work = work_dir(image)
    plan = runtime.commit_plan(image.base_path, image.source_root, work)
    image.bytes_expected = sum(_du(runner, user, p) for p in plan.expected_from)
    image.heartbeat_at = db.utcnow()
    db.session.commit()
    stop = threading.Event()
    progress = threading.Thread(target=_progress_loop,
                                args=(current_app._get_current_object(), image.id, runner,
                                      user, plan.progress_dir, stop), daemon=True)
    try:
        files.remove_tree(user, work)
        files.make_dirs(user, work, mode=0o700)
        progress.start()
        for step in plan.steps:
            runner.run(list(step), as_user=user, timeout=BUILD_TIMEOUT)
        stop.set()
        progress.join(timeout=10)
        stored = _store(image, files, plan.output, runtime)
        files.remove_tree(user, work)
    except (AdapterError, ValueError, OSError, ServiceError) as exc:
        stop.set()
        if progress.is_alive():
            progress.join(timeout=10)
        db.session.refresh(image)
        _cleanup(image)
        _fail(image, failure_message(exc, image))
        return image
    db.session.refresh(image)
    image.path, image.digest = stored.path, stored.digest
    image.size_bytes = image.bytes_done = stored.size
    image.state, image.finished_at, image.building_session_id = "ready", db.utcnow(), None
    image.error = None
    db.session.commit()
    log.info("custom image %s ready at %s (%s)", image.key, stored.path, stored.digest)
    return image


def _store(image: CustomImage, files: UserFiles, output: str, runtime) -> image_store.Stored:
    """Copy the owner's image file into the store, reading it AS the owner, at most the size
    it has now (a user swapping in /dev/zero or a growing file cannot fill the store)."""
    user = image.owner_unix
    size = files.size(user, output)
    if size is None:
        raise ServiceError(_l("The build made no image file; nothing was stored."),
                           "image_not_an_image")

    def fill(sink) -> None:
        copied = 0

        def limited(chunk: bytes) -> None:
            nonlocal copied
            copied += len(chunk)
            if copied > size:
                raise ServiceError(_l("The image file changed while it was being stored; "
                                      "nothing was kept. Commit again."), "image_unstable")
            sink(chunk)

        files.copy_out(user, output, limited, timeout=BUILD_TIMEOUT)
        if copied != size:
            raise ServiceError(_l("The image file changed while it was being stored; "
                                  "nothing was kept. Commit again."), "image_unstable")

    return image_store.store_file(image.project.account,
                                  file_name(image, runtime.image_suffix), fill,
                                  magic=runtime.image_magic)


def failure_message(exc: Exception, image: CustomImage) -> str:
    """The build's error in words (disk full, session ended, otherwise the command's)."""
    if isinstance(exc, ServiceError):
        return str(exc.message)
    text = f"{getattr(exc, 'message', '')} {getattr(exc, 'stderr', '')}".lower()
    if isinstance(exc, OSError):
        text = f"{exc.strerror or exc}".lower()
    if "no space left" in text or "disk quota exceeded" in text:
        return str(_l("The image store ran out of disk space while copying the image; the "
                      "partial image was removed and the session is unchanged. Free space "
                      "or ask an admin, then commit again."))
    if isinstance(exc, CommandFailed) and image.source_root.lower() in text and \
            "no such file" in text:
        return str(_l("The session ended during the build; nothing was kept."))
    detail = (getattr(exc, "message", "") or str(exc)).strip()[:500]
    return str(_l("The build failed: %(error)s", error=detail))


def _progress_loop(app, image_id, runner, user, path, stop: threading.Event) -> None:
    with app.app_context():
        try:
            while not stop.wait(PROGRESS_INTERVAL):
                done = _du(runner, user, path)
                image = db.session.get(CustomImage, image_id)
                if image is None or image.state != "building":
                    return
                image.bytes_done, image.heartbeat_at = done, db.utcnow()
                db.session.commit()
        finally:
            db.session.remove()


def _cleanup(image: CustomImage) -> None:
    """Remove the partial build (the owner's folder, as the owner; a half-stored file, as
    the portal); never raises."""
    try:
        factory.make_user_files(_runner()).remove_tree(image.owner_unix, work_dir(image))
    except (AdapterError, ValueError, OSError) as exc:
        log.warning("custom image %s: cleanup failed: %s", image.id, exc)
    try:
        suffix = make_runtime(image.runtime).image_suffix
        image_store.discard_incoming(image.project.account, file_name(image, suffix))
    except (ValueError, AttributeError) as exc:
        log.warning("custom image %s: cleanup failed: %s", image.id, exc)


def _fail(image: CustomImage, message: str) -> None:
    image.state, image.error, image.finished_at = "failed", message, db.utcnow()
    image.building_session_id = None
    db.session.commit()
    log.warning("custom image %s failed: %s", image.key, message)


def image_json(image: CustomImage) -> dict:
    return {
        "id": image.id, "name": image.name, "tag": image.tag, "key": image.key,
        "display_name": image.display_name, "description": image.description,
        "framework": image.framework, "services": list(image.services or []),
        "state": image.state, "progress": image.progress, "size_bytes": image.size_bytes,
        "error": image.error, "session_id": image.session_id,
        "session_name": image.session_name,
        "created_by": image.created_by.username if image.created_by else None,
        "created_at": image.created_at.isoformat() + "Z" if image.created_at else None,
    }
