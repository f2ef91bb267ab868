"""The commit form (display name, description, image name, tag, image type, services)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.models.sessions import SERVICES
from portal.services.sessiondisplay import SERVICES as SERVICE_NAMES


class CommitForm(FlaskForm):
    """Fields only; every rule is the service's (portal.services.custom_images)."""

    display_name = StringField(_l("Display name"))
    description = TextAreaField(_l("Description"))
    name = StringField(_l("Image name"))
    tag = StringField(_l("Tag"), default="latest")
    framework = StringField(_l("Image type (framework it provides)"))
    services = SelectMultipleField(
        _l("Services it offers"), choices=[(s, SERVICE_NAMES.get(s, s)) for s in SERVICES],
        validate_choice=False, option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))


class DeleteForm(FlaskForm):
    pass
