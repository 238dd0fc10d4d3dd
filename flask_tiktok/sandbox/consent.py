"""The consent decision: which requested scopes the user ticked, and form signing.

TikTok's consent page lets the user untick scopes; the code, the callback's
``scopes`` and the token's ``scope`` then carry only the ticked ones.
``user.info.basic`` cannot be unticked. The sandbox keeps no state between
showing the page and the user's answer, so the form carries the authorization
request back, signed: a form whose request was changed is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Mapping

#: Scopes granted whenever they are asked for: the consent page shows them ticked
#: and disabled, as TikTok does for the basic profile.
REQUIRED_SCOPES: frozenset[str] = frozenset({"user.info.basic"})


def granted_scopes(requested: Iterable[str], ticked: Collection[str]) -> list[str]:
    """The requested scopes the user grants, in the order they were requested.

    ``ticked`` must be a subset of ``requested``; required scopes are granted
    whether ticked or not.
    """
    return [name for name in requested if name in ticked or name in REQUIRED_SCOPES]


def sign_request(key: bytes, params: Mapping[str, str]) -> str:
    """A signature of the authorization request ``params`` under ``key``."""
    message = json.dumps(sorted(params.items())).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def request_signed(key: bytes, params: Mapping[str, str], signature: str) -> bool:
    """Whether ``signature`` is :func:`sign_request`'s for ``params``."""
    # As bytes: compare_digest refuses a str with non-ASCII characters.
    return hmac.compare_digest(
        sign_request(key, params).encode(), signature.encode("utf-8", "replace")
    )
