"""Errors escaping a view: the extension answers them, unless the app does.

The extension's handlers are fallbacks: an app's own handler for the error's
class or a base class (``Exception`` too), registered before or after
``TikTok(app)``, at the app or on the view's blueprint, answers instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Blueprint, Flask

from flask_tiktok import TikTok, TikTokAPIError, TikTokError, TikTokLoginRequired

API_ERROR = TikTokAPIError("scope_not_authorized", "no", log_id="L1", status_code=401)


def _app(raises: Exception) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test", TIKTOK_CLIENT_KEY="key", TIKTOK_CLIENT_SECRET="secret"
    )

    @app.get("/fails")
    def fails() -> str:
        raise raises

    return app


def _own(app: Flask, cls: type[Exception]) -> None:
    @app.errorhandler(cls)
    def own(exc: Exception) -> tuple[str, int]:
        return f"own {type(exc).__name__}", 418


def _register(app: Flask, cls: type[Exception], order: str) -> None:
    steps: list[Callable[[], Any]] = [lambda: _own(app, cls), lambda: TikTok(app)]
    for step in steps if order == "before" else reversed(steps):
        step()


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("cls", [TikTokError, TikTokAPIError, Exception])
def test_an_apps_own_handler_answers_whatever_the_order(
    cls: type[Exception], order: str
) -> None:
    app = _app(API_ERROR)
    _register(app, cls, order)
    response = app.test_client().get("/fails")
    assert (response.status_code, response.text) == (418, "own TikTokAPIError")


@pytest.mark.parametrize("order", ["before", "after"])
def test_an_apps_handler_of_a_base_class_takes_login_required_too(order: str) -> None:
    app = _app(TikTokLoginRequired("nobody"))
    _register(app, TikTokError, order)
    response = app.test_client().get("/fails")
    assert (response.status_code, response.text) == (418, "own TikTokLoginRequired")


def test_a_blueprints_own_handler_answers_its_views() -> None:
    app = _app(API_ERROR)
    TikTok(app)
    pages = Blueprint("pages", __name__)

    @pages.get("/page")
    def page() -> str:
        raise API_ERROR

    @pages.errorhandler(TikTokError)
    def own(exc: TikTokError) -> tuple[str, int]:
        return "the blueprint's", 418

    app.register_blueprint(pages)
    client = app.test_client()
    assert client.get("/page").status_code == 418
    assert client.get("/fails").status_code == 502  # not the blueprint's view


def test_without_a_handler_of_the_apps_the_extension_answers() -> None:
    app = _app(API_ERROR)
    _own(app, ValueError)  # a handler for something else changes nothing
    TikTok(app)
    response = app.test_client().get("/fails", headers={"Accept": "application/json"})
    assert response.status_code == 502
    assert response.get_json()["error"] == "scope_not_authorized"
    login = _app(TikTokLoginRequired("nobody"))
    TikTok(login)
    assert login.test_client().get("/fails").location == "/tiktok/login?next=/fails"
