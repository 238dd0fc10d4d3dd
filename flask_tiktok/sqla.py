"""Old import path of :mod:`flask_tiktok.storage.sqla` (kept working).

Import ``SQLAlchemyStorage`` from ``flask_tiktok.storage``, and the mixins,
models and ``metadata`` from ``flask_tiktok.storage.sqla``.
"""

from __future__ import annotations

from .storage.sqla import *  # noqa: F403
from .storage.sqla import __all__ as __all__
