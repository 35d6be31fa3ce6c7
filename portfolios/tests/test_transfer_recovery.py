"""recover_transfers: a transfer whose settlement message was lost is settled by the beat sweep, once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from freezegun import freeze_time
from kombu.exceptions import OperationalError

from portfolios.models import JournalEntry, Transfer
from portfolios.services import transfer_create, transfer_submit
from portfolios.tasks import recover_transfers, settle_transfer
from portfolios.tests.helpers import balances

pytestmark = pytest.mark.django_db
D = Decimal


def _lost_deposit(account, amount="150.00") -> Transfer:
    """A deposit whose settlement message never ran (on_commit callbacks are not executed here)."""
    return transfer_create(account=account, direction=Transfer.Direction.INCOMING, amount=D(amount))


def test_a_deposit_whose_message_was_lost_settles_on_the_next_sweep(alice_account, settings):
    settings.TRANSFER_RECOVERY_AFTER_SECONDS = 60
    transfer = _lost_deposit(alice_account)

    with freeze_time(timezone.now() + timedelta(seconds=61)):
        assert recover_transfers() == 1

    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.SETTLED
    assert balances(alice_account)["cash"] == D("150.00")


def test_a_transfer_not_yet_due_is_left_to_its_own_message(alice_account, settings):
    settings.TRANSFER_RECOVERY_AFTER_SECONDS = 60
    settings.TRANSFER_SETTLEMENT_DELAY_SECONDS = 300
    transfer = _lost_deposit(alice_account)

    with freeze_time(timezone.now() + timedelta(seconds=200)):
        assert recover_transfers() == 0

    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.QUEUED


def test_a_transfer_stuck_between_submit_and_settle_is_settled(funded, settings):
    """The worker died after handing the withdrawal to the rail (pending) and before settling it."""
    transfer = transfer_create(account=funded, direction=Transfer.Direction.OUTGOING, amount=D("400"))
    transfer_submit(transfer_id=transfer.pk)

    with freeze_time(timezone.now() + timedelta(seconds=settings.TRANSFER_RECOVERY_AFTER_SECONDS + 1)):
        assert recover_transfers() == 1

    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.SETTLED
    assert balances(funded) == {"cash": D("600.00"), "withdrawal_hold": 0}


def test_a_late_original_message_after_the_sweep_books_nothing_twice(alice_account, settings):
    transfer = _lost_deposit(alice_account)
    with freeze_time(timezone.now() + timedelta(seconds=settings.TRANSFER_RECOVERY_AFTER_SECONDS + 1)):
        recover_transfers()
    entries = JournalEntry.objects.count()

    settle_transfer(str(transfer.pk))  # the original message, redelivered after all
    with freeze_time(timezone.now() + timedelta(hours=1)):
        assert recover_transfers() == 0  # settled transfers are final: nothing to sweep

    assert JournalEntry.objects.count() == entries
    assert balances(alice_account)["cash"] == D("150.00")


def test_final_transfers_are_never_swept(alice_account, alice_api, settings):
    canceled = _lost_deposit(alice_account, "10.00")
    assert alice_api.delete(f"/api/v1/transfers/{canceled.pk}").status_code == 204

    with freeze_time(timezone.now() + timedelta(hours=1)):
        assert recover_transfers() == 0

    canceled.refresh_from_db()
    assert canceled.status == Transfer.Status.CANCELED


def test_a_broker_outage_at_creation_still_answers_201_and_the_sweep_settles(
    alice_api, alice_account, django_capture_on_commit_callbacks, monkeypatch, settings
):
    def broker_down(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(settle_transfer, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/transfers", {"direction": "incoming", "amount": "75.00"})
    assert response.status_code == 201
    transfer = Transfer.objects.get(pk=response.json()["id"])
    assert transfer.status == Transfer.Status.QUEUED

    monkeypatch.undo()
    with freeze_time(timezone.now() + timedelta(seconds=settings.TRANSFER_RECOVERY_AFTER_SECONDS + 1)):
        assert recover_transfers() == 1
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.SETTLED
