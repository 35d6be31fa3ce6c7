"""Field encryption for personal data at rest (tax ids).

Keys come from the environment: `FIELD_ENCRYPTION_KEYS` is a comma-separated list of
Fernet keys, the first one encrypts, every one decrypts. To rotate: put a new key first,
keep the old ones after it, deploy, run `manage.py rotate_encryption_keys`, then drop the
old keys. Outside production a random key of the checkout stands in (`var/field-encryption.key`).
"""

import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def local_development_key(path: Path) -> str:
    """A random Fernet key kept in `path` (created once, mode 0600): development and tests only, never production.

    Not derived from SECRET_KEY: its development default is in this repository for anyone to read.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: two processes starting together agree on one key.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as file:  # created mode 0600
        file.write(Fernet.generate_key().decode())
    try:
        os.link(file.name, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(file.name)
    return path.read_text().strip()


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
