"""Keyed pseudonyms for user and device ids (the same in Python and DuckDB SQL).

The key comes from ``DATA_PLATFORM_PSEUDONYM_KEY``. ``DATA_PLATFORM_MODE=production`` makes a
missing key a startup error, and a key shorter than 16 characters is one in every mode; in the default ``demo`` mode
a fixed development key is used
and :func:`key_status` reports it, so the asset metadata shows a warning. The key never appears in
logs or metadata.
"""

from __future__ import annotations

import hashlib
import os

DEV_KEY = "data-platform-demo-key-not-secret"
MIN_KEY_LENGTH = 16


class PseudonymKeyError(RuntimeError):
    """The pseudonymisation key is too short, or missing in production mode."""


def mode() -> str:
    """``production`` or ``demo`` (DATA_PLATFORM_MODE, default demo)."""
    value = os.environ.get("DATA_PLATFORM_MODE", "demo")
    if value not in ("demo", "production"):
        raise ValueError(f"DATA_PLATFORM_MODE must be demo or production, got {value!r}")
    return value


def pseudonym_key() -> str:
    """The key, from DATA_PLATFORM_PSEUDONYM_KEY (a dev key in demo mode when it is unset).

    A key that is set but shorter than :data:`MIN_KEY_LENGTH` is an error in every mode: falling back
    to the public dev key would pseudonymise with a key the operator did not choose."""
    key = os.environ.get("DATA_PLATFORM_PSEUDONYM_KEY", "")
    if key and len(key) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(
            f"DATA_PLATFORM_PSEUDONYM_KEY is set but has {len(key)} characters; it needs at least "
            f"{MIN_KEY_LENGTH} (unset it to use the dev key in demo mode)"
        )
    if key:
        return key
    if mode() == "production":
        raise PseudonymKeyError(
            f"DATA_PLATFORM_PSEUDONYM_KEY must be set to a secret of at least {MIN_KEY_LENGTH} characters "
            "in production mode (DATA_PLATFORM_MODE=production)"
        )
    return DEV_KEY


def key_status() -> dict:
    """What asset metadata may say about the key (never the key itself); raises like
    :func:`pseudonym_key` for an unusable key."""
    from_env = pseudonym_key() != DEV_KEY
    return {
        "mode": mode(),
        "key": "from DATA_PLATFORM_PSEUDONYM_KEY" if from_env else "dev key (DATA_PLATFORM_PSEUDONYM_KEY unset)",
        "warning": not from_env,
    }


def pseudonymise(value: str | None, key: str) -> str | None:
    """``p_`` + the first 24 hex digits of sha256(key, unit separator, value); None stays None."""
    if value is None:
        return None
    return "p_" + hashlib.sha256(f"{key}\x1f{value}".encode()).hexdigest()[:24]


def pseudonymise_sql(expr: str, key_param: str = "pseudonym_key") -> str:
    """The DuckDB twin of :func:`pseudonymise`; the key is bound as ``$<key_param>``."""
    return f"('p_' || left(sha256(${key_param} || chr(31) || ({expr})), 24))"


def key_id(key: str) -> str:
    """A fingerprint that names a key without revealing it (``k_`` + 12 hex digits of a hash over a fixed label
    and the key): stored beside what the key produced, so a different key in use is recognised before it acts."""
    return "k_" + hashlib.sha256(f"data-platform key id\x1f{key}".encode()).hexdigest()[:12]
