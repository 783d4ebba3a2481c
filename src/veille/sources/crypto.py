"""Platform secrets are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from ``VEILLE_CREDENTIALS_KEY`` (a Fernet key, so it can be rotated apart from
the session key) or is derived from ``SECRET_KEY`` with HKDF.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from veille.env import SettingError


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted (key changed or data damaged)."""


@functools.cache
def _fernet() -> Fernet:
    configured = os.environ.get("VEILLE_CREDENTIALS_KEY", "")
    if configured:
        try:
            return Fernet(configured.encode())
        except ValueError:
            raise SettingError(
                "VEILLE_CREDENTIALS_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"veille-credentials", info=b"v1").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_credentials(credentials: dict[str, Any]) -> str:
    if not credentials:
        return ""
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError) as error:
        raise CredentialsUnreadable("stored credentials cannot be decrypted with the current key") from error
