"""Field encryption for personal data at rest (tax ids).

Keys come from the environment: `FIELD_ENCRYPTION_KEYS` is a comma-separated list of
Fernet keys, the first one encrypts, every one decrypts. To rotate: put a new key first,
keep the old ones after it, deploy, run `manage.py rotate_encryption_keys`, then drop the
old keys. Outside production a key derived from SECRET_KEY stands in (see settings).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def derive_development_key(secret_key: str) -> str:
    """A deterministic Fernet key for development and tests only (never production)."""
    digest = hashlib.sha256(f"speedtrade-field-encryption:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _cipher() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise RuntimeError("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_text(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    return _cipher().decrypt(token.encode()).decode()


def reencrypt_text(token: str) -> str:
    """The same plaintext encrypted under the current (first) key."""
    return _cipher().rotate(token.encode()).decode()


def rows_reencrypt(queryset, field: str) -> int:
    """Re-encrypt `field` of every row of `queryset` under the current key (after a rotation);
    call it inside a transaction. Returns how many rows were rewritten."""
    count = 0
    for row in queryset.select_for_update().exclude(**{field: ""}):
        setattr(row, field, reencrypt_text(getattr(row, field)))
        row.save(update_fields=[field])
        count += 1
    return count


def mask_last4(last4: str) -> str:
    return f"•••••{last4}" if last4 else ""
