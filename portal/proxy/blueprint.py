"""The `proxy` blueprint, in a module of its own so that the package imports its
views and the views import the blueprint without importing each other."""

from flask import Blueprint

from portal.extensions import csrf

bp = Blueprint("proxy", __name__)
csrf.exempt(bp)
