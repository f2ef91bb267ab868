"""Project forms. Validation lives in portal.services; these carry fields and CSRF only."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField

ROLE_CHOICES = [SelectChoice("member", _l("Member")), SelectChoice("manager", _l("Manager"))]


class DetailsForm(FlaskForm):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))


class AddMemberForm(FlaskForm):
    username = StringField(_l("Username"))
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="member", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validate_choice=False)


class ExtensionForm(FlaskForm):
    days = StringField(_l("More days"))
    reason = TextAreaField(_l("Why"))
