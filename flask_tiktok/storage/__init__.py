"""Where a user's TikTok login (tokens and profile) is kept.

- :class:`BaseStorage` (:mod:`.base`): the interface, the records
  :class:`StoredUser` and :class:`StoredLogin`, and
  :exc:`StorageUnavailable` (the backend cannot be reached).
- :class:`SessionStorage` (:mod:`.session`): the default, in Flask's session.
- :class:`SQLAlchemyStorage` (:mod:`.sqla`): server-side, in a database table;
  imported on first use, since SQLAlchemy is an optional extra.
- :mod:`.sealing`: how every backend encrypts the tokens it keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (
    AccountTaken,
    BaseStorage,
    Resealed,
    StorageUnavailable,
    StoredAccount,
    StoredLogin,
    StoredUser,
)
from .session import SessionStorage

if TYPE_CHECKING:
    from .sqla import SQLAlchemyStorage as SQLAlchemyStorage

__all__ = [
    "AccountTaken",
    "BaseStorage",
    "Resealed",
    "SQLAlchemyStorage",
    "SessionStorage",
    "StorageUnavailable",
    "StoredAccount",
    "StoredLogin",
    "StoredUser",
]


def __getattr__(name: str) -> Any:
    # SQLAlchemy is an optional extra: import it only when asked for.
    if name == "SQLAlchemyStorage":
        try:
            from .sqla import SQLAlchemyStorage
        except ModuleNotFoundError as exc:
            raise ImportError(
                "SQLAlchemyStorage needs SQLAlchemy 2: pip install"
                f" 'flask-tiktok[sqlalchemy]' ({exc})"
            ) from exc
        return SQLAlchemyStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
