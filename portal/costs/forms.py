from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class PriceForm(FlaskForm):
    resource = StringField(_l("Resource"), validators=[DataRequired(), Length(max=40)])
    hourly = StringField(_l("Price per hour"), validators=[DataRequired(), Length(max=40)])
