"""Tax ids are encrypted at rest and survive a key rotation."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from accounts import services
from accounts.encryption import decrypt_text
from accounts.models import KYCApplication

pytestmark = pytest.mark.django_db


def _raw_tax_id_column(application) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_kycapplication WHERE id = %s", [application.pk])
        return " ".join(str(value) for value in cursor.fetchone())


def test_the_database_never_holds_the_tax_id_in_clear(alice):
    application = services.kyc_draft_save(user=alice, changes={"tax_id_type": "USA_SSN", "tax_id": "987-65-4321"})
    raw_row = _raw_tax_id_column(application)
    assert "987654321" not in raw_row and "987-65-4321" not in raw_row
    assert decrypt_text(KYCApplication.objects.get(pk=application.pk).tax_id_encrypted) == "987654321"


def test_rotation_reencrypts_under_the_new_key_so_the_old_key_can_go(alice, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    application = services.kyc_draft_save(user=alice, changes={"tax_id_type": "USA_SSN", "tax_id": "987-65-4321"})
    before = application.tax_id_encrypted

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    application.refresh_from_db()
    assert application.tax_id_encrypted != before

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert decrypt_text(application.tax_id_encrypted) == "987654321"
    with pytest.raises(InvalidToken):
        decrypt_text(before)  # the old ciphertext needed the retired key
