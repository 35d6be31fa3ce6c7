"""The alert book fires exactly the alerts a batch of ticks reaches, once, and nothing far away is touched."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from alerts.book import AlertBook, Armed, alert_book, alert_book_reset, on_ticks
from alerts.models import PriceAlert
from alerts.services import alert_cancel, alert_create, alert_update
from marketdata.quotes import Quote
from notifications.models import Notification
from portfolios.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_book():
    alert_book_reset()
    yield
    alert_book_reset()


@pytest.fixture
def acme(db):
    return AssetFactory(symbol="ACME", reference_price=Decimal("100.00"))


def tick(price, symbol="ACME") -> Quote:
    p = Decimal(price)
    return Quote(
        symbol=symbol, bid=p, ask=p, bid_size=Decimal(1), ask_size=Decimal(1), last=p, timestamp=timezone.now()
    )


def alert(user, condition, value, **options):
    return alert_create(user=user, symbol="ACME", condition=condition, value=Decimal(value), **options)


def notified(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user, kind="alert_triggered")
        .order_by("created_at")
        .values_list("title", flat=True)
    )


def test_alerts_crossing_in_one_batch_fire_once_each(alice, acme, django_capture_on_commit_callbacks):
    near = alert(alice, "price_above", "101")
    nearer = alert(alice, "price_above", "100.50")
    far = alert(alice, "price_above", "150")
    below = alert(alice, "price_below", "99")

    with django_capture_on_commit_callbacks(execute=True):
        on_ticks([tick("100.60"), tick("101.20"), tick("101.30"), tick("98.90")])

    for fired in (near, nearer, below):
        fired.refresh_from_db()
        assert (fired.status, fired.trigger_count) == ("triggered", 1)
    nearer.refresh_from_db()
    assert nearer.last_triggered_price == Decimal("100.60")
    far.refresh_from_db()
    assert far.status == "active"
    # one batch, one timestamp: compared as a set
    assert sorted(notified(alice)) == ["ACME at or above $100.5", "ACME at or above $101", "ACME at or below $99"]


def test_a_tick_that_crosses_nothing_pops_nothing(alice, acme):
    for value in range(110, 160):
        alert(alice, "price_above", str(value))
    on_ticks([tick("100")])
    book = alert_book()

    assert book.crossed("ACME", Decimal("100.01")) == []
    assert len(book.books["ACME"].above) == 50  # untouched


def test_a_repeating_alert_sleeps_for_its_cool_down(alice, acme, django_capture_on_commit_callbacks):
    repeating = alert(alice, "price_above", "101", repeat=True, cooldown_seconds=600)
    with freeze_time("2026-03-04 15:00:00") as clock, django_capture_on_commit_callbacks(execute=True):
        repeating.updated_at = timezone.now()  # created before the frozen clock: keep the book's watermark honest
        PriceAlert.objects.filter(pk=repeating.pk).update(updated_at=repeating.updated_at)
        on_ticks([tick("102")])
        clock.tick(timedelta(minutes=5))
        on_ticks([tick("103")])  # still cooling down
        clock.tick(timedelta(minutes=6))
        on_ticks([tick("104")])

    repeating.refresh_from_db()
    assert (repeating.status, repeating.trigger_count) == ("active", 2)
    assert len(notified(alice)) == 2


def test_percent_move_since_the_previous_close(alice, acme, django_capture_on_commit_callbacks):
    up = alert(alice, "change_up", "5")  # previous close: the reference price 100 (no daily bars)
    down = alert(alice, "change_down", "5")

    with django_capture_on_commit_callbacks(execute=True):
        on_ticks([tick("104.99"), tick("96"), tick("105")])

    up.refresh_from_db()
    down.refresh_from_db()
    assert up.status == "triggered" and up.last_triggered_price == Decimal("105")
    assert down.status == "active"
    assert notified(alice) == ["ACME up 5% since the previous close"]


def test_edits_and_cancels_made_elsewhere_reach_the_book(alice, acme, django_capture_on_commit_callbacks):
    moved = alert(alice, "price_above", "101")
    canceled = alert(alice, "price_above", "101")
    on_ticks([tick("100")])  # the book holds both

    alert_update(user=alice, alert_id=moved.pk, value=Decimal("200"))
    alert_cancel(user=alice, alert_id=canceled.pk)
    with django_capture_on_commit_callbacks(execute=True):
        on_ticks([tick("150")])

    assert notified(alice) == []


def test_two_books_fire_an_alert_once(alice, acme, django_capture_on_commit_callbacks):
    """Two feed processes (or a restarted one) evaluating the same ticks."""
    alert(alice, "price_above", "101")
    other = AlertBook()
    other.sync(timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        on_ticks([tick("102")])
    from alerts.services import alerts_fire

    (armed,) = other.crossed("ACME", Decimal("102"))
    assert alerts_fire([(armed, Decimal("102"))], now=timezone.now()) == {}
    assert len(notified(alice)) == 1


def test_one_batch_fires_every_customers_alerts_together_and_emails_each_once(
    alice, bob, acme, django_capture_on_commit_callbacks
):
    from django.core import mail

    from notifications.models import Delivery
    from notifications.tasks import deliveries_send

    alert(alice, "price_above", "101")
    alert(bob, "price_below", "99")
    alert(bob, "price_above", "100.50", repeat=True, cooldown_seconds=600)

    with django_capture_on_commit_callbacks(execute=True):
        on_ticks([tick("100.60"), tick("101.20"), tick("98.90")])
    notifications = list(Notification.objects.filter(kind="alert_triggered"))
    deliveries_send.apply(args=[[str(n.pk) for n in notifications]])  # the batch's task delivered twice

    assert notified(alice) == ["ACME at or above $101"]
    assert sorted(notified(bob)) == ["ACME at or above $100.5", "ACME at or below $99"]
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com", "bob@example.com"]
    assert Delivery.objects.count() == 3
    repeating = PriceAlert.objects.get(user=bob, repeat=True)
    assert (repeating.status, repeating.last_triggered_price) == ("active", Decimal("100.60"))
    assert repeating.rearm_at == repeating.last_triggered_at + timedelta(seconds=600)


def test_an_alert_edited_after_the_book_read_it_does_not_stop_the_others_in_its_batch(alice, acme):
    from alerts.services import alerts_fire

    edited = alert(alice, "price_above", "101")
    kept = alert(alice, "price_above", "101.50")
    other = AlertBook()
    other.sync(timezone.now())
    alert_update(user=alice, alert_id=edited.pk, value=Decimal("101.10"))  # after the book read it

    firings = [(armed, Decimal("102")) for armed in other.crossed("ACME", Decimal("102"))]
    fired = alerts_fire(firings, now=timezone.now())

    assert list(fired) == [kept.pk]
    assert notified(alice) == ["ACME at or above $101.5"]
    edited.refresh_from_db()
    assert (edited.status, edited.trigger_count) == ("active", 0)


@given(
    thresholds=st.lists(st.tuples(st.booleans(), st.integers(1, 200)), max_size=40),
    path=st.lists(st.integers(1, 200), min_size=1, max_size=30),
)
def test_the_book_fires_exactly_what_a_brute_force_scan_fires(thresholds, path):
    book = AlertBook()
    armed = {}
    for n, (upwards, value) in enumerate(thresholds):
        a = Armed(
            id=n,
            user_id=None,
            symbol="X",
            condition="price_above" if upwards else "price_below",
            value=Decimal(value),
            repeat=False,
            cooldown_seconds=60,
            updated_at=None,
        )
        armed[n] = a
        book.arm(a)
    fired_by_book, fired_by_scan = [], []
    remaining = dict(armed)
    for price in path:
        fired_by_book.append(sorted(a.id for a in book.crossed("X", Decimal(price))))
        hits = sorted(
            n for n, a in remaining.items() if (a.value <= price if a.condition == "price_above" else a.value >= price)
        )
        for n in hits:
            del remaining[n]
        fired_by_scan.append(hits)
    assert fired_by_book == fired_by_scan
