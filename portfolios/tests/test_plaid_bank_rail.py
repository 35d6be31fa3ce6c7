"""Plaid as the bank rail: link → ownership check → compliance (two people) → deposit →
settlement and returns, with plaid-python talking to recorded sandbox responses."""

from decimal import Decimal

import pytest
from django.test import override_settings

from accounts.encryption import decrypt_text
from accounts.models import AuditEvent, KYCApplication
from accounts.tests.factories import UserFactory, approved_customer
from portfolios import plaid, plaid_events, services
from portfolios.apps import bank_rail_settings_check
from portfolios.bank_rail import BankRailUnavailable
from portfolios.models import BankRailCursor, JournalEntry, PlaidTransfer
from portfolios.tasks import settle_transfer
from portfolios.tests.helpers import assert_ledger_sound, balances, ledger_row_count
from portfolios.tests.plaid_sandbox import PlaidSandbox
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db
D = Decimal
PLAID_ACCOUNT_ID = "vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D"
ACCESS_TOKEN = "access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6"


@pytest.fixture
def sandbox(settings):
    with PlaidSandbox() as server:
        settings.BANK_RAIL = "plaid"
        settings.PLAID_CLIENT_ID = "5f9b3c1e8e1f2a0013a4b5c6"
        settings.PLAID_SECRET = "sandbox-secret-for-tests"
        settings.PLAID_API_URL = server.url
        yield server


@pytest.fixture
def alice_active(alice):
    """Alice Walker, KYC approved under that name."""
    account = approved_customer(alice)
    KYCApplication.objects.filter(user=alice).update(given_name="Alice", family_name="Walker")
    return account


@pytest.fixture
def dave(db):
    return UserFactory(email="dave@example.com", first_name="Dave", staff_group="Compliance")


def link_bank(sandbox, account, identity="identity_get_alice"):
    sandbox.answer("/item/public_token/exchange", "item_public_token_exchange")
    sandbox.answer("/auth/get", "auth_get")
    sandbox.answer("/identity/get", identity)
    return plaid.bank_link_create(
        account=account,
        public_token="public-sandbox-b0e2c4ee-a763-4df5-bfe9-46a46bce993d",
        plaid_account_id=PLAID_ACCOUNT_ID,
        institution_name="First Platypus Bank",
    )


def deposit(sandbox, account, amount="1000.00", authorization="transfer_authorization_create_approved"):
    transfer = services.transfer_create(account=account, direction="incoming", amount=D(amount))
    sandbox.answer("/transfer/authorization/create", authorization)
    if authorization.endswith("approved"):
        sandbox.answer("/transfer/create", "transfer_create")
    settle_transfer.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    return transfer


def actions(target) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(target.pk)).order_by("created_at").values_list("action", flat=True)
    )


def test_a_link_in_the_customers_name_is_approved_with_masked_numbers_and_an_encrypted_token(sandbox, alice_active):
    link = link_bank(sandbox, alice_active)

    assert link.status == "approved" and link.name_match_score == D("1.000")
    assert (link.account_mask, link.routing_mask, link.account_name) == ("0000", "1533", "Plaid Checking")
    assert link.owner_names == ["Alice M. Walker"] and link.kyc_name == "Alice Walker"
    assert ACCESS_TOKEN not in link.access_token_encrypted
    assert decrypt_text(link.access_token_encrypted) == ACCESS_TOKEN
    assert actions(link) == ["bank_link.created", "bank_link.owner_matched"]
    assert sandbox.requests_to("/auth/get")[0]["options"] == {"account_ids": [PLAID_ACCOUNT_ID]}
    assert sandbox.headers_to("/auth/get")[0]["PLAID-CLIENT-ID"] == "5f9b3c1e8e1f2a0013a4b5c6"


def test_link_mismatch_held_compliance_approves_deposit_settles_then_returns(sandbox, alice_active, carol, dave):
    # Link: the owner is someone else → held, with the score, and nothing moves from it.
    link = link_bank(sandbox, alice_active, identity="identity_get_mismatch")
    assert link.status == "held" and link.name_match_score < D("0.85")
    assert actions(link) == ["bank_link.created", "bank_link.held"]
    refused = deposit(sandbox, alice_active)
    assert (refused.status, refused.reason) == ("rejected", "No approved linked bank account.")
    assert sandbox.requests_to("/transfer/authorization/create") == []
    assert balances(alice_active)["cash"] == D("0")

    # Compliance: Carol proposes, Carol cannot also confirm, Dave confirms.
    services_before = ledger_row_count()
    plaid.bank_link_review_propose(link=link, decision="approve", reason="Joint account; spouse named.", actor=carol)
    with pytest.raises(DomainError) as four_eyes:
        plaid.bank_link_review_confirm(link=link, actor=carol)
    assert four_eyes.value.code == "four_eyes"
    link = plaid.bank_link_review_confirm(link=link, actor=dave)
    assert (link.status, link.proposed_by, link.decided_by) == ("approved", carol, dave)
    assert actions(link)[-2:] == ["bank_link.review_proposed", "bank_link.approved"]
    assert ledger_row_count() == services_before

    # Deposit: authorized and created at Plaid under the transfer's id; pending until settled.
    transfer = deposit(sandbox, alice_active)
    assert transfer.status == "pending" and transfer.rail_reference == "460cbe92-2dcc-8eae-5ad6-b37d0ec90fd0"
    authorization = sandbox.requests_to("/transfer/authorization/create")[0]
    assert authorization["type"] == "debit" and authorization["amount"] == "1000.00"
    assert authorization["idempotency_key"] == str(transfer.pk) and authorization["access_token"] == ACCESS_TOKEN
    assert authorization["user"] == {"legal_name": "Alice Walker"}
    assert balances(alice_active)["cash"] == D("0")

    # Events, two pages: pending, posted, settled → cash credited once, cursor at 3.
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_settled_page1")
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_settled_page2")
    assert plaid_events.transfer_events_sync() == 3
    assert [body["after_id"] for body in sandbox.requests_to("/transfer/event/sync")] == [0, 2]
    transfer.refresh_from_db()
    assert transfer.status == "settled" and balances(alice_active)["cash"] == D("1000.00")
    assert BankRailCursor.objects.get(name=plaid_events.TRANSFER_EVENTS_CURSOR).position == 3

    # R01 return: the deposit's entry is reversed and the account's transfers are held.
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_returned")
    assert plaid_events.transfer_events_sync() == 1
    transfer.refresh_from_db()
    alice_active.refresh_from_db()
    assert transfer.status == "returned" and transfer.reason == "ACH return R01: Insufficient funds"
    assert PlaidTransfer.objects.get(transfer=transfer).return_code == "R01"
    assert balances(alice_active)["cash"] == D("0")
    assert JournalEntry.objects.filter(cause_type="reversal", account=alice_active).count() == 1
    assert alice_active.transfers_blocked
    with pytest.raises(DomainError) as blocked:
        services.transfer_create(account=alice_active, direction="outgoing", amount=D("1.00"))
    assert blocked.value.code == "transfers_blocked"
    assert "transfer.returned" in actions(transfer)
    assert_ledger_sound()


def test_replayed_events_change_nothing(sandbox, alice_active):
    link_bank(sandbox, alice_active)
    transfer = deposit(sandbox, alice_active)
    for _ in range(2):  # the same page served twice (a retry after a lost response)
        sandbox.answer("/transfer/event/sync", "transfer_event_sync_settled_page2")
    assert plaid_events.transfer_events_sync() == 1
    assert plaid_events.transfer_events_sync() == 0
    transfer.refresh_from_db()
    assert transfer.status == "settled" and balances(alice_active)["cash"] == D("1000.00")


def test_an_nsf_declined_authorization_rejects_the_deposit(sandbox, alice_active):
    link_bank(sandbox, alice_active)
    transfer = deposit(sandbox, alice_active, authorization="transfer_authorization_create_declined")
    assert transfer.status == "rejected"
    assert transfer.reason.startswith("Bank transfer declined: Transaction declined because of insufficient funds")
    assert sandbox.requests_to("/transfer/create") == [] and not PlaidTransfer.objects.exists()


def test_item_login_required_rejects_the_transfer_and_stops_using_the_link(sandbox, alice_active):
    link = link_bank(sandbox, alice_active)
    transfer = services.transfer_create(account=alice_active, direction="incoming", amount=D("50.00"))
    sandbox.answer("/transfer/authorization/create", "error_item_login_required", status=400)
    settle_transfer.apply(args=[str(transfer.pk)])
    transfer.refresh_from_db()
    link.refresh_from_db()
    assert (transfer.status, transfer.reason) == ("rejected", "Your bank needs you to log in again: relink it.")
    assert link.status == "login_required" and actions(link)[-1] == "bank_link.login_required"


def test_a_rate_limited_submission_stays_queued_for_a_retry(sandbox, alice_active):
    link_bank(sandbox, alice_active)
    transfer = services.transfer_create(account=alice_active, direction="incoming", amount=D("50.00"))
    sandbox.answer("/transfer/authorization/create", "error_rate_limit", status=429)
    with pytest.raises(BankRailUnavailable):
        services.transfer_submit(transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == "queued" and not PlaidTransfer.objects.exists()


def test_a_rate_limited_event_sync_keeps_its_cursor_and_resumes(sandbox, alice_active):
    link_bank(sandbox, alice_active)
    transfer = deposit(sandbox, alice_active)
    sandbox.answer("/transfer/event/sync", "error_rate_limit", status=429)
    assert plaid_events.transfer_events_sync() == 0
    assert BankRailCursor.objects.get(name=plaid_events.TRANSFER_EVENTS_CURSOR).position == 0
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_settled_page2")
    assert plaid_events.transfer_events_sync() == 1
    transfer.refresh_from_db()
    assert transfer.status == "settled"


def test_a_failed_withdrawal_gives_the_held_cash_back(sandbox, alice_active):
    with override_settings(BANK_RAIL="simulated"):
        services.deposit_settled_post(account=alice_active, amount=D("300.00"))
    link_bank(sandbox, alice_active)
    transfer = services.transfer_create(account=alice_active, direction="outgoing", amount=D("100.00"))
    sandbox.answer("/transfer/authorization/create", "transfer_authorization_create_approved")
    sandbox.answer("/transfer/create", "transfer_create")
    settle_transfer.apply(args=[str(transfer.pk)])
    assert sandbox.requests_to("/transfer/authorization/create")[0]["type"] == "credit"
    assert balances(alice_active)["cash"] == D("200.00")
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_failed")
    plaid_events.transfer_events_sync()
    transfer.refresh_from_db()
    assert transfer.status == "rejected" and "Account closed or invalid" in transfer.reason
    assert balances(alice_active)["cash"] == D("300.00") and balances(alice_active)["withdrawal_hold"] == D("0")


def test_a_held_link_is_decided_only_by_compliance_and_only_once(sandbox, alice_active, alice, carol, dave):
    link = link_bank(sandbox, alice_active, identity="identity_get_mismatch")
    with pytest.raises(DomainError) as denied:
        plaid.bank_link_review_propose(link=link, decision="approve", reason="mine", actor=alice)
    assert denied.value.code == "permission_denied"
    with pytest.raises(DomainError) as nothing:
        plaid.bank_link_review_confirm(link=link, actor=dave)
    assert nothing.value.code == "nothing_proposed"
    plaid.bank_link_review_propose(link=link, decision="reject", reason="Third-party account.", actor=carol)
    link = plaid.bank_link_review_confirm(link=link, actor=dave)
    assert link.status == "rejected" and actions(link)[-1] == "bank_link.rejected"
    with pytest.raises(DomainError) as decided:
        plaid.bank_link_review_propose(link=link, decision="approve", reason="changed my mind", actor=carol)
    assert decided.value.code == "already_decided"
    assert deposit(sandbox, alice_active).status == "rejected"


def test_name_match_score():
    assert plaid.name_match_score("Alice Walker", ["Walker, Alice M."]) == D("1.000")
    assert plaid.name_match_score("José Núñez", ["JOSE NUNEZ"]) == D("1.000")
    assert plaid.name_match_score("Alice Walker", ["Alberta Bobbeth Charleson"]) < D("0.5")
    assert plaid.name_match_score("", ["Alice Walker"]) == D("0.000")


def test_plaid_without_its_keys_refuses_to_start(settings):
    settings.BANK_RAIL = "plaid"
    settings.PLAID_CLIENT_ID, settings.PLAID_SECRET = "", ""
    (error,) = bank_rail_settings_check()
    assert error.id == "portfolios.E001" and "PLAID_CLIENT_ID, PLAID_SECRET" in error.msg
    settings.BANK_RAIL = "simulated"
    assert bank_rail_settings_check() == []


def test_key_rotation_reencrypts_access_tokens(sandbox, alice_active, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    tax_id_keys = settings.FIELD_ENCRYPTION_KEYS  # Alice's KYC tax id is under these
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    link = link_bank(sandbox, alice_active)
    before = link.access_token_encrypted
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key, *tax_id_keys]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    link.refresh_from_db()
    assert link.access_token_encrypted != before and decrypt_text(link.access_token_encrypted) == ACCESS_TOKEN
