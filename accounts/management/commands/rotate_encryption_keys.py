"""Re-encrypt stored personal data under the current field-encryption key.

Rotation, step by step:
1. generate a key: `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`;
2. deploy with FIELD_ENCRYPTION_KEYS="<new>,<old>[,...]" (new first: it encrypts; all decrypt);
3. run `manage.py rotate_encryption_keys`;
4. deploy with FIELD_ENCRYPTION_KEYS="<new>" (the old key can now be destroyed).
"""

from django.core.management.base import BaseCommand

from accounts.services import tax_ids_reencrypt
from portfolios.plaid import access_tokens_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every tax id and Plaid access token under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        count = tax_ids_reencrypt()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} tax id(s) under the current key."))
        tokens = access_tokens_reencrypt()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {tokens} Plaid access token(s) under the current key."))
