"""The `jobtemplates` blueprint, in a module of its own so that the package imports its
views and the views import the blueprint without importing each other."""

from flask import Blueprint

bp = Blueprint("jobtemplates", __name__, url_prefix="/templates")
