"""The TIKTOK_* settings: defaults, and every value checked once, at init_app."""

from __future__ import annotations

from typing import Any, Literal, get_type_hints
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, url_for
from helpers import (
    TOKEN_URL,
    USER_INFO_URL,
    calls,
    create_app,
    form,
    log_in,
    start_login,
)

from flask_tiktok import TikTok
from flask_tiktok.config import KEYS, REQUIRED, Settings
from flask_tiktok.state import get_state


def test_init_app_registers_once_and_sets_defaults() -> None:
    app = Flask(__name__)
    app.config.update(TIKTOK_CLIENT_KEY="ck", TIKTOK_CLIENT_SECRET="cs")
    tiktok = TikTok()
    tiktok.init_app(app)
    assert app.extensions["tiktok"].extension is tiktok
    assert not hasattr(tiktok, "app")
    assert app.config["TIKTOK_SCOPES"] == ["user.info.basic"]
    assert app.config["TIKTOK_URL_PREFIX"] == "/tiktok"
    assert app.config["TIKTOK_PKCE"] == "hex"
    assert app.config["TIKTOK_HTTP_TIMEOUT"] == 10
    assert app.config["TIKTOK_WEBHOOK_TOLERANCE"] == 300
    with pytest.raises(RuntimeError, match="already registered"):
        tiktok.init_app(app)


def test_every_key_has_one_entry_and_becomes_one_setting() -> None:
    """config.KEYS is the one list: each key once, each Settings field from
    exactly one key, every key with a one-line meaning."""
    names = [key.name for key in KEYS]
    assert len(names) == len(set(names))
    assert all(name.startswith("TIKTOK_") for name in names)
    assert sorted(key.attribute for key in KEYS) == sorted(
        Settings.__dataclass_fields__
    )
    assert all(key.meaning and "\n" not in key.meaning for key in KEYS)


def test_set_defaults_gives_each_key_its_default_and_keeps_the_apps() -> None:
    config: dict[str, Any] = {"TIKTOK_SCOPES": ["video.list"]}
    Settings.set_defaults(config)
    for key in KEYS:
        if key.default is REQUIRED:
            assert key.name not in config
        elif key.name != "TIKTOK_SCOPES":
            assert config[key.name] == key.default
    assert config["TIKTOK_SCOPES"] == ["video.list"]
    other: dict[str, Any] = {}
    Settings.set_defaults(other)
    other["TIKTOK_SCOPES"].append("user.info.stats")
    fresh: dict[str, Any] = {}
    Settings.set_defaults(fresh)
    assert fresh["TIKTOK_SCOPES"] == ["user.info.basic"]  # no shared list


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"TIKTOK_SCOPES": "a b", "TIKTOK_PKCE": "plain"}, "TIKTOK_PKCE"),
        ({"TIKTOK_SCOPES": [], "TIKTOK_TOKEN_URL": "/token"}, "TIKTOK_TOKEN_URL"),
        (
            {"TIKTOK_REDIRECT_URI": "ftp://x", "TIKTOK_API_BASE_URL": "v2/"},
            "TIKTOK_API_BASE_URL",
        ),
    ],
)
def test_the_first_bad_key_is_named_in_check_order(
    bad: dict[str, Any], named: str
) -> None:
    """PKCE and the endpoint URLs are checked first, then the rest."""
    config: dict[str, Any] = {"TIKTOK_CLIENT_KEY": "ck", "TIKTOK_CLIENT_SECRET": "cs"}
    Settings.set_defaults(config)
    config.update(bad)
    with pytest.raises(ValueError, match=f"^{named} "):
        Settings.from_config(config)


def test_settings_are_typed_precisely() -> None:
    hints = get_type_hints(Settings)
    assert hints["pkce"] == Literal["hex", "S256"]
    settings = Settings.from_config(
        {"TIKTOK_CLIENT_KEY": "ck", "TIKTOK_CLIENT_SECRET": "cs", "TIKTOK_PKCE": "S256"}
    )
    assert settings.pkce == "S256"
    assert settings.token_url == "https://open.tiktokapis.com/v2/oauth/token/"
    assert settings.scopes == ["user.info.basic"]


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({}, "TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"),
        ({"TIKTOK_CLIENT_KEY": "ck"}, "TIKTOK_CLIENT_SECRET"),
        ({"TIKTOK_CLIENT_SECRET": "cs"}, "TIKTOK_CLIENT_KEY"),
    ],
)
def test_missing_credentials_are_named(config: dict[str, str], missing: str) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(RuntimeError, match=missing):
        TikTok(app)


@pytest.mark.parametrize(
    "config",
    [
        {"TIKTOK_PKCE": "plain"},
        {"TIKTOK_SCOPES": []},
        {"TIKTOK_SCOPES": [1]},
        {"TIKTOK_USER_FIELDS": ["display_name", 2]},
        {"TIKTOK_HTTP_TIMEOUT": "abc"},
        {"TIKTOK_HTTP_TIMEOUT": 0},
        {"TIKTOK_HTTP_TIMEOUT": True},
        {"TIKTOK_HTTP_TIMEOUT": float("nan")},
        {"TIKTOK_WEBHOOK_TOLERANCE": None},
        {"TIKTOK_WEBHOOK_TOLERANCE": -5},
        {"TIKTOK_URL_PREFIX": "tiktok"},
        {"TIKTOK_REDIRECT_URI": 5},
        {"TIKTOK_REDIRECT_URI": "/tiktok/callback"},
        {"TIKTOK_LOGIN_REDIRECT": None},
        {"TIKTOK_LOGIN_REDIRECT": "javascript:alert(1)"},
        {"TIKTOK_TOKEN_URL": "open.tiktokapis.com/v2/oauth/token/"},
        {"TIKTOK_API_BASE_URL": None},
        {"TIKTOK_CLIENT_SECRET_FALLBACKS": [""]},
    ],
)
def test_bad_config_is_refused_naming_the_key(config: dict[str, Any]) -> None:
    (key,) = config
    with pytest.raises(ValueError, match=key):
        create_app(**config)


def test_space_separated_scopes_are_refused_at_init() -> None:
    """Settings says the TIKTOK_* config is "checked once", but
    TIKTOK_SCOPES = "user.info.basic video.list" (OAuth's usual separator)
    passed init_app and made every /login a 500 (ValueError in the client)."""
    with pytest.raises(ValueError, match="TIKTOK_SCOPES"):
        create_app(TIKTOK_SCOPES="user.info.basic video.list")


def test_user_fields_error_speaks_of_fields() -> None:
    with pytest.raises(ValueError, match="list of field names"):
        create_app(TIKTOK_USER_FIELDS=[1])


@pytest.mark.parametrize(
    "config",
    [
        {"TIKTOK_HTTP_TIMEOUT": "2.5"},
        {"TIKTOK_URL_PREFIX": ""},
        {"TIKTOK_REDIRECT_URI": "https://example.com/tiktok/callback"},
        {"TIKTOK_LOGIN_REDIRECT": "https://example.com/home"},
        {"TIKTOK_SCOPES": "user.info.basic, video.list"},
        {"TIKTOK_TOKEN_URL": "mock://tiktok/v2/oauth/token/"},
    ],
)
def test_good_config_in_other_shapes_is_taken(config: dict[str, Any]) -> None:
    app = create_app(**config)
    settings = app.extensions["tiktok"].settings
    assert settings.timeout == (2.5 if "TIKTOK_HTTP_TIMEOUT" in config else 10)
    if "TIKTOK_SCOPES" in config:
        assert settings.scopes == ["user.info.basic", "video.list"]
    if "TIKTOK_URL_PREFIX" in config:
        assert app.url_map.bind("localhost").match("/login") == ("tiktok.login", {})


def test_scopes_config_accepts_a_comma_string() -> None:
    app = create_app(TIKTOK_SCOPES="user.info.basic, user.info.profile")
    assert start_login(app.test_client())["scope"] == [
        "user.info.basic,user.info.profile"
    ]


def test_configured_user_fields_and_redirect_uri(tiktok_mock: Any) -> None:
    app = create_app(
        TIKTOK_USER_FIELDS=["open_id", "display_name"],
        TIKTOK_REDIRECT_URI="https://app.example/tiktok/callback",
    )
    client = app.test_client()
    assert start_login(client)["redirect_uri"] == [
        "https://app.example/tiktok/callback"
    ]
    log_in(client)
    token_call = calls(tiktok_mock, TOKEN_URL)[-1]
    assert form(token_call)["redirect_uri"] == "https://app.example/tiktok/callback"
    info_call = calls(tiktok_mock, USER_INFO_URL)[-1]
    assert parse_qs(urlsplit(info_call.url).query)["fields"] == ["open_id,display_name"]


CALLBACK_URL = "http://localhost/tiktok/callback"


def test_an_empty_redirect_uri_means_the_callback_url() -> None:
    """``TIKTOK_REDIRECT_URI=""`` (an empty environment variable, e.g. through
    ``app.config.from_prefixed_env()`` or ``os.environ.get(name, "")``) is taken
    as unset: TikTok is sent back to ``url_for("tiktok.callback")``."""
    app = create_app(TIKTOK_REDIRECT_URI="")
    assert start_login(app.test_client())["redirect_uri"] == [CALLBACK_URL]


def test_an_empty_redirect_uri_from_prefixed_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The configuration page's own example, with the variable set but empty:
    init_app takes it, and the login sends TikTok back to the callback route."""
    monkeypatch.setenv("FLASK_TIKTOK_REDIRECT_URI", "")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-0123456789",
        TIKTOK_CLIENT_KEY="k",
        TIKTOK_CLIENT_SECRET="s",
    )
    app.config.from_prefixed_env()
    assert app.config["TIKTOK_REDIRECT_URI"] == ""
    TikTok(app)
    assert start_login(app.test_client())["redirect_uri"] == [CALLBACK_URL]


def test_url_prefix_none_mounts_at_the_root() -> None:
    """``TIKTOK_URL_PREFIX=None`` is Flask's own "no prefix" (register_blueprint's
    default): the routes are mounted at the root."""
    app = create_app(TIKTOK_URL_PREFIX=None)
    with app.test_request_context():
        assert url_for("tiktok.login") == "/login"


def test_url_scheme_is_case_insensitive(tiktok_mock: Any) -> None:
    """RFC 3986: the scheme is case-insensitive. ``HTTPS://`` is taken, and the
    API calls go to that https host."""
    app = create_app(TIKTOK_API_BASE_URL="HTTPS://open.tiktokapis.com/v2/")
    client = app.test_client()
    log_in(client)
    assert client.get("/api/me").status_code == 200
    assert tiktok_mock.last_request.url == (
        "https://open.tiktokapis.com/v2/user/info/?fields=open_id"
    )


def test_without_init_app_the_error_says_what_to_do() -> None:
    app = Flask(__name__)
    with app.test_request_context(), pytest.raises(RuntimeError, match="init_app"):
        _ = TikTok().client


def test_new_app_without_tiktok_is_named() -> None:
    """get_state of an app TikTok was not registered on says to call init_app;
    of a registered app, it is that app's state."""
    with pytest.raises(RuntimeError, match="init_app"):
        get_state(Flask(__name__))
    app = create_app()
    state = get_state(app)
    assert state is app.extensions["tiktok"]
    assert state.extension is app.extensions["test_tiktok"]


def test_one_extension_serves_two_apps(tiktok_mock: Any) -> None:
    tiktok = TikTok()
    apps = []
    for key in ("key-a", "key-b"):
        app = Flask(__name__)
        app.config.update(
            SECRET_KEY="s", TIKTOK_CLIENT_KEY=key, TIKTOK_CLIENT_SECRET="cs"
        )
        tiktok.init_app(app)
        apps.append(app)
    for app, key in zip(apps, ("key-a", "key-b"), strict=True):
        with app.test_request_context():
            assert tiktok.client.client_key == key
        assert start_login(app.test_client())["client_key"] == [key]
