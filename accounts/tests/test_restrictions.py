"""Account restrictions and the pre-trade refusal reason that trading will call."""

import pytest

from accounts import services
from accounts.models import AccountRestriction, AuditEvent
from accounts.tests.factories import KYCApplicationFactory, restriction_set
from portfolios.selectors import trading_refusal_reason, transfer_refusal_reason
from speedtrade.errors import DomainError, InvalidInput, NotPermitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_approved(alice_submitted, alice_account, carol):
    services.kyc_approve(application=alice_submitted, actor=carol, reason="ok")
    alice_account.refresh_from_db()
    return alice_account


def test_trading_is_refused_until_kyc_is_approved(alice, alice_account, carol):
    assert trading_refusal_reason(account=alice_account) == "KYC not approved"
    KYCApplicationFactory(user=alice)
    application = services.kyc_submit(user=alice)
    assert trading_refusal_reason(account=alice_account) == "KYC not approved"
    services.kyc_approve(application=application, actor=carol, reason="ok")
    alice_account.refresh_from_db()
    assert trading_refusal_reason(account=alice_account) is None


def test_rejected_applicants_cannot_trade(alice_submitted, alice_account, carol):
    services.kyc_reject(application=alice_submitted, actor=carol, reason="no")
    alice_account.refresh_from_db()
    assert trading_refusal_reason(account=alice_account) == "KYC not approved"


REVIEW = "Your account is under review. Contact Support if you have questions."


@pytest.mark.parametrize(
    ("kind", "trading_reason", "transfer_reason", "action"),
    [
        ("trading", f"trading blocked: {REVIEW}", None, "account.trading_blocked"),
        ("transfers", None, f"transfers blocked: {REVIEW}", "account.transfers_blocked"),
        ("account", f"account frozen: {REVIEW}", f"account frozen: {REVIEW}", "account.frozen"),
    ],
)
def test_each_restriction_refuses_what_it_should_until_lifted(
    alice_approved, carol, kind, trading_reason, transfer_reason, action
):
    restriction_set(alice_approved, actor=carol, kind=kind, reason="Suspicious pattern", message="under_review")
    alice_approved.refresh_from_db()
    assert trading_refusal_reason(account=alice_approved) == trading_reason
    assert transfer_refusal_reason(account=alice_approved) == transfer_reason
    assert alice_approved.can_trade is (trading_reason is None)
    assert alice_approved.can_transfer is (transfer_reason is None)
    blocked = AuditEvent.objects.get(action=action)
    assert (blocked.actor, blocked.subject_user.email, blocked.after["reason"], blocked.after["customer_message"]) == (
        carol,
        "alice@example.com",
        "Suspicious pattern",
        "under_review",
    )

    services.account_restriction_set(account=alice_approved, kind=kind, blocked=False, actor=carol, reason="Cleared")
    alice_approved.refresh_from_db()
    assert trading_refusal_reason(account=alice_approved) is None
    assert transfer_refusal_reason(account=alice_approved) is None
    restriction = AccountRestriction.objects.get(account=alice_approved, kind=kind)
    assert (restriction.lifted_by, restriction.lift_reason) == (carol, "Cleared")
    assert AuditEvent.objects.filter(action__endswith=("unblocked" if kind != "account" else "unfrozen")).count() == 1


def test_a_restriction_needs_a_reason(alice_approved, carol):
    with pytest.raises(InvalidInput, match="reason"):
        services.account_restriction_set(
            account=alice_approved, kind="trading", blocked=True, actor=carol, reason="", customer_message="security"
        )
    alice_approved.refresh_from_db()
    assert not alice_approved.trading_blocked and not AccountRestriction.objects.exists()


def test_blocking_twice_or_lifting_nothing_is_refused(alice_approved, carol):
    with pytest.raises(DomainError, match="Not in place"):
        services.account_restriction_set(account=alice_approved, kind="trading", blocked=False, actor=carol, reason="x")
    services.account_restriction_set(
        account=alice_approved, kind="trading", blocked=True, actor=carol, reason="x", customer_message="security"
    )
    with pytest.raises(DomainError, match="Already in place"):
        services.account_restriction_set(
            account=alice_approved, kind="trading", blocked=True, actor=carol, reason="y", customer_message="security"
        )
    assert AccountRestriction.objects.count() == 1


def test_support_cannot_restrict(alice_approved, dave):
    with pytest.raises(NotPermitted):
        services.account_restriction_set(
            account=alice_approved, kind="trading", blocked=True, actor=dave, reason="x", customer_message="security"
        )
    alice_approved.refresh_from_db()
    assert not alice_approved.trading_blocked


def test_the_customer_reads_the_chosen_message_never_the_internal_note(alice_approved, carol):
    restriction_set(alice_approved, actor=carol, message="information_needed")
    alice_approved.refresh_from_db()
    told = "We need more information from you. Please check your email or contact Support."
    assert trading_refusal_reason(account=alice_approved) == f"account frozen: {told}"
    assert transfer_refusal_reason(account=alice_approved) == f"account frozen: {told}"
    assert AccountRestriction.objects.get().reason == "Testing a trading block"  # kept for staff


def test_blocking_without_a_message_for_the_customer_is_refused(alice_approved, carol):
    with pytest.raises(InvalidInput, match="customer_message"):
        services.account_restriction_set(
            account=alice_approved, kind="trading", blocked=True, actor=carol, reason="Testing a trading block"
        )
    alice_approved.refresh_from_db()
    assert not alice_approved.trading_blocked and not AccountRestriction.objects.exists()
