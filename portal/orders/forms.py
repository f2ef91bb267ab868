"""Approval forms. Validation lives in portal.services.approvals; these carry CSRF."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField


class DecisionForm(FlaskForm):
    message = TextAreaField(_l("Message to the requester"))
