"""The Flask app factory: config, extensions, one blueprint per feature area."""

from __future__ import annotations

from flask import Flask, render_template, request, session
from flask_login import current_user

from adapters import dbdlock, factory
from portal import config as portal_config
from portal import db
from portal.config import REPO_ROOT
from portal.extensions import babel, csrf, limiter, login_manager


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(REPO_ROOT / "templates"),
        static_folder="static",
    )
    app.config.from_object(portal_config.Defaults)
    portal_config.load_file(app)
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.update(test_config)
    if not app.testing:
        from portal import statedir

        statedir.check(app)  # refuses a database or secret key others can read
    portal_config.load_secret(app)
    dbdlock.use(app.config.get("SLURMDBD_LOCK_FILE"))
    factory.use_config(app.config)  # SLURM_CONF, SLURM_BIN_DIR for every runner
    from portal.net import request_actor
    from portal.services import audit

    audit.use_web_actor(request_actor)  # who acts in a request: the web layer says

    db.init_app(app)
    _init_login(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    _register_blueprints(app)
    _register_context(app)
    return app


def _init_login(app: Flask) -> None:
    from portal.net import session_identifier
    from portal.services.users import load_session_user

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager._session_identifier_generator = session_identifier  # real client address
    login_manager.user_loader(load_session_user)


def _select_locale() -> str:
    from flask import current_app, has_request_context

    allowed = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and worker speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in allowed:
        return current_user.locale
    if session.get("locale") in allowed:
        return session["locale"]
    return request.accept_languages.best_match(allowed) or allowed[0]


def _register_blueprints(app: Flask) -> None:
    from portal.account import bp as account_bp
    from portal.admin import bp as admin_bp
    from portal.api import bp as api_bp
    from portal.auth import bp as auth_bp
    from portal.costs import bp as costs_bp
    from portal.custom_images import bp as custom_images_bp
    from portal.gateway.internal import bp as gateway_bp
    from portal.gpu_usage import bp as gpu_usage_bp
    from portal.jobs import bp as jobs_bp
    from portal.jobtemplates import bp as jobtemplates_bp
    from portal.keys import bp as keys_bp
    from portal.main import bp as main_bp
    from portal.monitoring import bp as monitoring_bp
    from portal.orders import bp as orders_bp
    from portal.projects import bp as projects_bp
    from portal.proxy import bp as proxy_bp
    from portal.schedules import bp as schedules_bp
    from portal.sessions import bp as sessions_bp
    from portal.settings import bp as settings_bp
    from portal.wallet import bp as wallet_bp
    from portal.whitelists import bp as whitelists_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(jobtemplates_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(keys_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(whitelists_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(custom_images_bp)
    app.register_blueprint(proxy_bp)
    app.register_blueprint(gateway_bp)
    app.register_blueprint(projects_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(wallet_bp)
    app.register_blueprint(monitoring_bp)
    app.register_blueprint(gpu_usage_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(costs_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing for a forged form to ride on


def _worker_health() -> dict | None:
    """The worker's heartbeat for the layout banner (admins) and the stale-state notes on
    pages that show cached states; read at most once per request."""
    from flask import g

    if "worker_health" not in g:
        from portal.services import heartbeat

        g.worker_health = heartbeat.page_view()
    return g.worker_health


def _register_context(app: Flask) -> None:
    from portal.menu import MENU, menu_href, visible_menu
    from portal.services.users import current_membership, user_projects

    @app.context_processor
    def layout_context():
        from flask_babel import get_locale

        ctx = {
            "menu": MENU,
            "visible_menu": visible_menu,
            "menu_href": menu_href,
            "languages": app.config["LANGUAGES"],
            "get_locale": get_locale,
        }
        if current_user.is_authenticated:
            ctx["memberships"] = user_projects(current_user)
            ctx["current_membership"] = current_membership(current_user)
            ctx["worker_health"] = _worker_health
        return ctx

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        )
        return response

    @app.errorhandler(403)
    @app.errorhandler(404)
    def page_error(error):
        from flask_babel import gettext as _

        if request.path.startswith("/api/"):
            from portal.api.errors import http_error

            return http_error(error)
        messages = {
            403: _("You do not have permission to open this page."),
            404: _("There is no such page, or it is not yours to see."),
        }
        return render_template(
            "error.html", code=error.code, title=error.name, message=messages[error.code]
        ), error.code
