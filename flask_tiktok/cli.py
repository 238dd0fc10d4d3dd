"""``flask tiktok``: look after stored logins and connected accounts; run the
sandbox."""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .errors import TikTokError, TikTokLoginRequired
from .logs import loggable
from .state import TikTokState, get_state
from .storage.base import StorageUnavailable, StoredLogin
from .wire import join_list

__all__ = ["cli"]


class _Commands(AppGroup):
    """The group, answering a storage that cannot be reached with a one-line
    error (exit status 1), not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StorageUnavailable as exc:
            raise click.ClickException(f"The storage is unavailable: {exc}.") from None


#: The ``flask tiktok`` command group (registered by ``init_app``).
cli = _Commands("tiktok", help="TikTok logins and accounts kept by flask-tiktok.")

#: Tries of one account's refresh when TikTok rate-limits (then: failed).
_RATE_LIMIT_TRIES = 4
#: The longest wait between them, in seconds.
_MAX_BACKOFF = 60.0


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def _text(value: object) -> str:
    """TikTok's data as one safe terminal cell: no escape sequences, no
    carriage returns (a display name could carry either)."""
    return loggable(value)


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


@cli.command("users")
def users() -> None:
    """List stored users and when their tokens expire ("unreadable": no key
    of the app opens them, the user must log in again)."""
    try:
        logins = get_state().storage.list_users()
    except NotImplementedError as exc:
        raise click.ClickException(str(exc)) from None
    if not logins:
        click.echo("No TikTok users are stored.")
        return
    rows = [("OPEN_ID", "NAME", "ACCESS EXPIRES", "REFRESH EXPIRES", "SCOPES")]
    for login in logins:
        if not login.has_tokens:
            access = refresh = "logged out"
        elif not login.readable:
            # What `refresh` says too: no key of the app opens these tokens.
            access = refresh = "unreadable"
        else:
            access = _when(login.access_token_expires_at)
            refresh = _when(login.refresh_token_expires_at)
        rows.append(
            (
                _text(login.user.open_id),
                _text(login.user.profile.get("display_name") or "-"),
                access,
                refresh,
                _text(join_list(login.user.scopes) or "-"),
            )
        )
    _table(rows)


@cli.command("accounts")
@click.option("--owner", "owner_id", help="Only this owner's accounts.")
def accounts(owner_id: str | None) -> None:
    """List connected accounts: owner, account, when connected, tokens."""
    state = _shared_state()
    found = state.storage.list_accounts(owner_id)
    if not found:
        click.echo("No TikTok accounts are connected.")
        return
    rows = [("OWNER", "OPEN_ID", "NAME", "CONNECTED", "TOKENS")]
    for account in found:
        rows.append(
            (
                _text(account.owner_id),
                _text(account.user.open_id),
                _text(account.user.profile.get("display_name") or "-"),
                _when(account.connected_at),
                "yes" if account.has_tokens else "no (reconnect)",
            )
        )
    _table(rows)


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
@click.argument("open_id", required=False)
@click.option("--all", "every", is_flag=True, help="Every stored login and account.")
@click.option(
    "--expiring-within",
    type=click.FloatRange(min=0),
    help="With --all: only access tokens that expire within SECONDS.",
    metavar="SECONDS",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="With --all: refreshes in flight at once.",
)
def refresh(
    open_id: str | None,
    every: bool,
    expiring_within: float | None,
    concurrency: int,
) -> None:
    """Refresh OPEN_ID's access token now (or --all of them) and store the
    new pair. Each refresh is made once across processes, even while requests
    refresh the same tokens."""
    state = _shared_state()
    if every == (open_id is not None):
        raise click.UsageError("Give an OPEN_ID or --all (not both).")
    if not every:
        if expiring_within is not None:
            raise click.UsageError("--expiring-within goes with --all.")
        _refresh_one(state, open_id or "")
        return
    due = _due(state.storage.list_users(), expiring_within)
    open_ids = [login.user.open_id for login in due]
    outcomes = _refresh_many(state, open_ids, concurrency, expiring_within)
    counts = Counter(outcomes.values())
    click.echo(
        f"Refreshed {counts['refreshed']}, refused {counts['refused']},"
        f" failed {counts['failed']} (of {len(due)})."
    )
    for failed, outcome in sorted(outcomes.items()):
        if outcome != "refreshed":
            click.echo(f"  {outcome}: {_text(failed)}", err=True)
    if counts["failed"]:
        sys.exit(1)


def _refresh_one(state: TikTokState, open_id: str) -> None:
    tokens = state.storage.get_tokens(open_id)
    if tokens is None:
        raise click.ClickException(
            f"No readable tokens are stored for '{_text(open_id)}' (none, or"
            " sealed with a key no longer in SECRET_KEY or SECRET_KEY_FALLBACKS:"
            " 'flask tiktok users' says 'unreadable' then)."
        )
    try:
        fresh = state.refresher.ensure_fresh(open_id, tokens, force=True)
    except TikTokLoginRequired:
        raise click.ClickException(
            f"TikTok refused to refresh '{_text(open_id)}''s token; the stored"
            " tokens were deleted and the user must log in (or connect) again."
        ) from None
    except TikTokError as exc:
        raise click.ClickException(f"TikTok could not refresh: {_text(exc)}") from None
    click.echo(
        f"Refreshed {_text(open_id)}: access token valid until"
        f" {_when(fresh.access_token_expires_at)}, refresh token until"
        f" {_when(fresh.refresh_token_expires_at)}."
    )


def _due(logins: list[StoredLogin], within: float | None) -> list[StoredLogin]:
    """The logins with readable tokens, those expiring within ``within``
    seconds only."""
    live = [login for login in logins if login.has_tokens and login.readable]
    if within is None:
        return live
    horizon = datetime.now(timezone.utc) + timedelta(seconds=within)
    return [
        login
        for login in live
        if (
            login.access_token_expires_at is None
            or login.access_token_expires_at <= horizon
        )
    ]


def _refresh_many(
    state: TikTokState, open_ids: list[str], concurrency: int, within: float | None
) -> dict[str, str]:
    """Refresh each of ``open_ids`` on ``concurrency`` threads (those expiring
    within ``within`` seconds, or all); the outcome of each: ``refreshed``,
    ``refused`` (tokens deleted) or ``failed``."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    outcomes: dict[str, str] = {}
    lock = threading.Lock()
    with (
        click.progressbar(
            length=len(open_ids),
            label="Refreshing",
            file=sys.stderr,
        ) as bar,
        ThreadPoolExecutor(max_workers=concurrency) as pool,
    ):

        def work(open_id: str) -> None:
            with app.app_context():
                outcome = _refresh_once(state, open_id, within, time.sleep)
            with lock:
                outcomes[open_id] = outcome
                bar.update(1)

        for future in [pool.submit(work, open_id) for open_id in open_ids]:
            future.result()
    return outcomes


def _refresh_once(
    state: TikTokState,
    open_id: str,
    within: float | None,
    sleep: Callable[[float], None],
) -> str:
    """One account's refresh, waiting out TikTok's rate limit (its
    ``Retry-After`` when given, else a doubling backoff) a few times.

    With ``within``, tokens are refreshed only while they still expire within
    it: a request that refreshed them first (under the same lock) leaves
    nothing to do, so the account gets one refresh, not two.
    """
    for attempt in range(_RATE_LIMIT_TRIES):
        tokens = state.storage.get_tokens(open_id)
        if tokens is None:
            return "refused"  # deleted meanwhile: a logout, a refused refresh
        try:
            if within is None:
                state.refresher.ensure_fresh(open_id, tokens, force=True)
            else:
                state.refresher.ensure_fresh(open_id, tokens, leeway=within)
        except TikTokLoginRequired:
            return "refused"
        except TikTokError as exc:
            if not exc.rate_limited or attempt == _RATE_LIMIT_TRIES - 1:
                return "failed"
            wait = exc.retry_after
            if wait is None or not math.isfinite(wait):
                wait = 2.0**attempt
            sleep(min(wait, _MAX_BACKOFF))
        else:
            return "refreshed"
    return "failed"


@cli.command("reseal")
def reseal() -> None:
    """Seal every stored token pair again with the current SECRET_KEY.

    Run it after moving the old key to SECRET_KEY_FALLBACKS, before dropping
    the fallback: tokens only the fallback opens would be lost with it.
    """
    state = _shared_state()
    done = state.storage.reseal_tokens()
    click.echo(
        f"Resealed {done.resealed}, already current {done.current},"
        f" unreadable {len(done.unreadable)}."
    )
    for open_id in done.unreadable:
        click.echo(f"  unreadable: {_text(open_id)}", err=True)
    if done.unreadable:
        click.echo(
            "No key in SECRET_KEY or SECRET_KEY_FALLBACKS opens these tokens:"
            " those users must log in (or connect) again.",
            err=True,
        )


@cli.command("disconnect")
@click.argument("open_id")
@click.confirmation_option(prompt="Revoke and delete this TikTok account?")
def disconnect(open_id: str) -> None:
    """Revoke OPEN_ID at TikTok (best effort) and delete the connected account."""
    state = _shared_state()
    if state.storage.get_account(open_id) is None:
        raise click.ClickException(f"No account '{_text(open_id)}' is connected.")
    state.extension.disconnect_account(open_id)
    click.echo(f"Disconnected {_text(open_id)}.")


@cli.command("forget")
@click.argument("open_id")
@click.confirmation_option(prompt="Delete everything stored about this user?")
def forget(open_id: str) -> None:
    """Delete everything stored about OPEN_ID (a data-deletion request)."""
    _shared_state().extension.forget(open_id)
    click.echo(f"Forgot {_text(open_id)}.")


@cli.command(
    "sandbox",
    with_appcontext=False,
    add_help_option=False,
    context_settings={"ignore_unknown_options": True},
)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def sandbox(options: tuple[str, ...]) -> None:
    """Run the sandbox, a local stand-in for TikTok, until Ctrl+C.

    The same program as ``python -m flask_tiktok.sandbox``, with its options
    (``--help`` lists them): ``--host``, ``--port``, ``--auto-approve-as
    OPEN_ID``, ``--env``. Run as a program of its own, not imported: the
    package's own code never imports the sandbox.
    """
    program = [sys.executable, "-m", "flask_tiktok.sandbox", *options]
    os.execv(sys.executable, program)  # noqa: S606 (our own interpreter)
