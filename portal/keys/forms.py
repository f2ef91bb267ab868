"""Key forms. Validation lives in portal.services.keys; these carry fields and CSRF only."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice


class CreateKeyForm(FlaskForm):
    name = StringField(_l("Name"))
    key_type = SelectField(
        _l("Type"),
        choices=[
            SelectChoice("ed25519", _l("Ed25519 (recommended)")),
            SelectChoice("rsa", _l("RSA 4096")),
        ],
        default="ed25519",
        validate_choice=False,  # the service says what is wrong, in the same words as the API
    )


class ImportKeyForm(FlaskForm):
    name = StringField(_l("Name"))
    public_key = TextAreaField(_l("Public key"))
