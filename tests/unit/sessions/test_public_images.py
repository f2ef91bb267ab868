"""Public images (F13): registration rules, what users are offered, the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from portal import cli, cli_common, db
from portal.services import ServiceError, public_images
from portal.services.images import available_images, get_image


@pytest.mark.parametrize("name, path, fields, code", [
    ("Bad Name", "/x", {}, "invalid_image_name"),
    ("ok", "relative", {}, "invalid_path"),
    ("ok", "/a/../b", {}, "invalid_path"),
    ("ok", "/a:b", {}, "invalid_path"),
    ("ok", "/x", {"services": "jupyter,teleport"}, "invalid_service"),
    ("ok", "/x", {"services": ""}, "invalid_service"),
    ("ok", "/x", {"services": "ssh", "auth_methods": ""}, "invalid_auth"),
    ("ok", "/x", {"auth_methods": "key,magic"}, "invalid_auth"),
])
def test_bad_registrations_are_refused(image_app, ctx, name, path, fields, code):
    with pytest.raises(ServiceError) as refused:
        public_images.register_image(name, path, **fields)
    assert refused.value.code == code


def test_a_path_the_runtime_cannot_start_is_refused(app, ctx, tmp_path):
    with pytest.raises(ServiceError) as refused:
        public_images.register_image("empty", str(tmp_path))
    assert refused.value.code == "image_missing"


def test_registered_images_are_offered_first_and_shadow_configured_ones(image_app, ctx):
    keys = [i.key for i in available_images(None)]
    assert keys == ["base"]
    public_images.register_image("base", "/srv/base2", framework="Newer base",
                                 services="webterm")
    public_images.register_image("torch", "/srv/torch", framework="PyTorch")
    offered = available_images(None)
    assert [i.key for i in offered] == ["base", "torch"]
    assert offered[0].path == "/srv/base2" and offered[1].services == ("jupyter", "ssh",
                                                                       "webterm")
    with pytest.raises(ServiceError):
        public_images.register_image("torch", "/srv/other")


def test_withdrawn_images_are_not_offered(image_app, ctx):
    row = public_images.register_image("torch", "/srv/torch")
    public_images.set_enabled(row.id, False)
    assert "torch" not in [i.key for i in available_images(None)]
    with pytest.raises(ServiceError) as refused:
        get_image(None, "torch")
    assert refused.value.code == "image_not_allowed"


def test_cli_registers_once(image_app, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: image_app)
    args = ["image", "register", "jupyter", "--path", "/srv/jupyter", "--framework", "Py"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0 and "registered image jupyter" in result.output
    again = CliRunner().invoke(cli.main, args)
    assert again.exit_code == 1 and "exists already" in again.output
    quiet = CliRunner().invoke(cli.main, [*args, "--if-missing"])
    assert quiet.exit_code == 0
    listed = CliRunner().invoke(cli.main, ["image", "list"])
    assert "jupyter" in listed.output and "/srv/jupyter" in listed.output
    with image_app.app_context():
        assert [r.name for r in public_images.list_images()] == ["jupyter"]
        db.session.remove()
