"""What the other apps already announce becomes notifications: fills, system cancels, transfers, KYC, security."""

from decimal import Decimal

import pytest
from django.core import mail

from accounts.tests.factories import approved_customer
from notifications.models import Notification
from portfolios.services import deposit_settled_post, transfer_create, transfer_reject
from portfolios.tests.factories import AssetFactory
from trading.risk import OrderRequest
from trading.services import order_cancel, order_place
from trading.tests.conftest import quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_account(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account = approved_customer(alice)
        deposit_settled_post(account=account, amount=Decimal("100.00"))
    return account


def kinds(user):
    return list(Notification.objects.filter(user=user).order_by("created_at").values_list("kind", flat=True))


def test_approval_and_a_settled_deposit_are_notified(alice, alice_account):
    assert kinds(alice) == ["kyc_approved", "deposit_settled"]
    deposit = Notification.objects.get(user=alice, kind="deposit_settled")
    assert deposit.body == "Your deposit of $100.00 has arrived."


def test_a_returned_deposit(alice, alice_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transfer = transfer_create(account=alice_account, direction="incoming", amount=Decimal("5.00"), actor=alice)
        transfer_reject(transfer_id=transfer.pk, reason="R01 insufficient funds")

    assert kinds(alice)[-1] == "deposit_returned"


def test_a_filled_crypto_buy(alice, alice_account, django_capture_on_commit_callbacks):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        order, _ = order_place(
            account=alice_account,
            request=OrderRequest(
                symbol="BTC/USD", side="buy", type="market", time_in_force="gtc", notional=Decimal("10")
            ),
        )

    filled = Notification.objects.get(user=alice, kind="order_filled")
    assert filled.title == "Order filled: Buy BTC/USD"
    assert filled.body == "Buy $10.00 of BTC/USD filled at $50.00."
    assert filled.url == f"/orders/{order.id}/"
    assert [m.subject for m in mail.outbox] == ["Order filled: Buy BTC/USD"]


def test_the_customers_own_cancel_is_not_notified(alice, alice_account, django_capture_on_commit_callbacks):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = order_place(
            account=alice_account,
            request=OrderRequest(
                symbol="BTC/USD",
                side="buy",
                type="limit",
                time_in_force="gtc",
                qty=Decimal("0.1"),
                limit_price=Decimal("45"),
            ),
        )
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(account=alice_account, order_id=order.id)

    order.refresh_from_db()
    assert order.status == "canceled"
    assert "order_canceled" not in kinds(alice)


def test_a_new_api_key_is_a_security_notification_with_one_email(
    alice, alice_account, django_capture_on_commit_callbacks
):
    from accounts.services import api_key_create

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        key, _ = api_key_create(user=alice, label="bot", scope="trading")

    notification = Notification.objects.get(user=alice, kind="security_api_key_changed")
    assert notification.title == "API key created"
    assert key.key_id in notification.body
    # accounts' security email is the one email: the notification adds none of its own.
    assert len(mail.outbox) == 1 and "was created" in mail.outbox[0].subject
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


def resting_btc_buy(account, django_capture_on_commit_callbacks):
    AssetFactory(crypto=True, reference_price=Decimal("50.00"))
    quote(symbol="BTC/USD", bid="49.00", ask="50.00", bid_size="10", ask_size="10")
    request = OrderRequest(
        symbol="BTC/USD", side="buy", type="limit", time_in_force="gtc", qty=Decimal("0.1"), limit_price=Decimal("45")
    )
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = order_place(account=account, request=request)
    return order


def test_a_venue_rejection_is_notified_with_its_reason(alice, alice_account, django_capture_on_commit_callbacks):
    from trading.services import order_venue_update

    order = resting_btc_buy(alice_account, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        order_venue_update(order_id=order.id, to_status="rejected", reason="Market closed for this asset.")

    rejected = Notification.objects.get(user=alice, kind="order_rejected")
    assert rejected.body == "Buy 0.1 BTC/USD was rejected. Market closed for this asset."


def test_a_cancel_nobody_asked_for_is_notified(alice, alice_account, django_capture_on_commit_callbacks):
    from trading.services import order_venue_update

    order = resting_btc_buy(alice_account, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        order_venue_update(order_id=order.id, to_status="canceled", reason="Venue maintenance.")

    canceled = Notification.objects.get(user=alice, kind="order_canceled")
    assert canceled.title == "Order canceled: Buy BTC/USD"


def test_a_sign_in_from_a_new_browser_is_a_security_email(alice, django_capture_on_commit_callbacks):
    from django.test import RequestFactory

    from accounts.audit import audit_event_record

    def sign_in(user_agent):
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT=user_agent)
        with django_capture_on_commit_callbacks(execute=True):
            audit_event_record(action="auth.login", actor=alice, target=alice, request=request)

    sign_in("Firefox on Linux")  # the first sign-in ever: not news
    sign_in("Firefox on Linux")  # a known browser
    mail.outbox.clear()
    sign_in("Safari on iPhone")

    (notification,) = Notification.objects.filter(user=alice, kind="security_new_login")
    assert "203.0.113.7" in notification.body and "Safari on iPhone" in notification.body
    assert [m.subject for m in mail.outbox] == ["New sign-in to your account"]


def test_an_announcement_that_cannot_be_worded_does_not_cost_the_batch_the_others(alice, alice_account):
    from notifications.subscribers import notifications_from_announcements

    def fill(order_id: str, **order) -> tuple[str, dict]:
        order = {"id": order_id, "symbol": "BTC/USD", "side": "buy", "order_class": "simple", **order}
        return "user_push", {"user_id": str(alice.pk), "event": "fill", "price": "50.00", "order": order}

    # The first has neither a quantity nor a notional to put in its words.
    notifications_from_announcements([fill("broken"), fill("fine", qty="1")])

    assert list(Notification.objects.filter(user=alice, kind="order_filled").values_list("url", flat=True)) == [
        "/orders/fine/"
    ]
