"""``flask tiktok``: look after stored logins from the command line."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from .errors import TikTokError, TikTokLoginRequired
from .state import TikTokState, get_state
from .wire import join_list

__all__ = ["cli"]

#: The ``flask tiktok`` command group (registered by ``init_app``).
cli = AppGroup("tiktok", help="TikTok logins kept by flask-tiktok.")


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


@cli.command("users")
def users() -> None:
    """List stored users and when their tokens expire."""
    try:
        logins = get_state().storage.list_users()
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from None
    if not logins:
        click.echo("No TikTok users are stored.")
        return
    rows = [("OPEN_ID", "NAME", "ACCESS EXPIRES", "REFRESH EXPIRES", "SCOPES")]
    for login in logins:
        if login.has_tokens:
            access = _when(login.access_token_expires_at)
            refresh = _when(login.refresh_token_expires_at)
        else:
            access = refresh = "logged out"
        rows.append(
            (
                login.user.open_id,
                str(login.user.profile.get("display_name") or "-"),
                access,
                refresh,
                join_list(login.user.scopes) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


def _shared_state() -> TikTokState:
    """The app's state, refusing a storage that a command cannot reach."""
    state = get_state()
    if not state.storage.shared:
        raise click.ClickException(
            f"{type(state.storage).__name__} keeps tokens in the user's browser"
            " session; a command cannot reach them. Use a server-side storage"
            " such as flask_tiktok.storage.SQLAlchemyStorage."
        )
    return state


@cli.command("refresh")
@click.argument("open_id")
def refresh(open_id: str) -> None:
    """Refresh OPEN_ID's access token now and store the new pair."""
    state = _shared_state()
    tokens = state.storage.get_tokens(open_id)
    if tokens is None:
        raise click.ClickException(f"No tokens are stored for {open_id!r}.")
    try:
        fresh = state.refresher.ensure_fresh(open_id, tokens, force=True)
    except TikTokLoginRequired:
        raise click.ClickException(
            f"TikTok refused to refresh {open_id!r}'s token; the stored tokens"
            " were deleted and the user must log in again."
        ) from None
    except TikTokError as exc:
        raise click.ClickException(f"TikTok could not refresh: {exc}") from None
    click.echo(
        f"Refreshed {open_id}: access token valid until"
        f" {_when(fresh.access_token_expires_at)}, refresh token until"
        f" {_when(fresh.refresh_token_expires_at)}."
    )


@cli.command("forget")
@click.argument("open_id")
@click.confirmation_option(prompt="Delete everything stored about this user?")
def forget(open_id: str) -> None:
    """Delete everything stored about OPEN_ID (a data-deletion request)."""
    _shared_state().extension.forget(open_id)
    click.echo(f"Forgot {open_id}.")
