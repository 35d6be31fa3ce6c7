"""notification_record: one notification per event, the channels the customer chose, email exactly once."""

import pytest
from django.core import mail

from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services import Event, notification_record, notifications_record, preference_update
from notifications.tasks import deliveries_send, delivery_send
from notifications.tests import flaky_email
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db


def record(user, kind="deposit_settled", key="transfer:1", **context):
    return notification_record(user_id=user.pk, kind=kind, event_key=key, context={"amount": "$10.00", **context})


def test_a_settled_deposit_is_noted_and_emailed_once(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification, created = record(alice)

    assert created
    assert notification.title == "Deposit settled"
    assert notification.body == "Your deposit of $10.00 has arrived."
    assert notification.read_at is None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", DeliveryStatus.SENT, 1)


def test_the_same_event_twice_makes_one_notification_and_one_email(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = record(alice)
        again, created = record(alice)

    assert not created and again.pk == first.pk
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_task_run_twice_sends_one_email(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)
    delivery = Delivery.objects.get(notification=notification)

    assert delivery_send.apply(args=[delivery.pk]).get() == "not pending"  # a redelivered message
    assert len(mail.outbox) == 1


def test_the_batch_task_run_twice_sends_one_email(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)

    deliveries_send.apply(args=[[str(notification.pk)]])  # the batch's message redelivered

    assert Delivery.objects.filter(notification=notification).count() == 1
    assert len(mail.outbox) == 1


def test_a_batch_tells_each_owner_her_own_unread_count(alice, bob, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("speedtrade.realtime.send_to_users_now", sent.extend)
    preference_update(user=bob, category="transfers", in_app=False)
    context = {"amount": "$10.00"}

    with django_capture_on_commit_callbacks(execute=True):
        results = notifications_record(
            [
                Event(user_id=alice.pk, kind="deposit_settled", event_key="transfer:1", context=context),
                Event(user_id=bob.pk, kind="deposit_settled", event_key="transfer:2", context=context),
                Event(user_id=alice.pk, kind="deposit_settled", event_key="transfer:3", context=context),
            ]
        )

    assert [created for _, created in results] == [True, True, True]
    assert [(user_id, data["unread_count"]) for user_id, _, data in sent] == [(alice.pk, 2), (alice.pk, 2)]
    assert results[1][0].read_at is not None  # bob's: in-app off, kept read and not pushed
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "alice@example.com", "bob@example.com"]


def test_a_failing_provider_is_retried_and_the_email_goes_out_once(alice, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "notifications.tests.flaky_email.FlakyEmailBackend"
    flaky_email.FAILURES_LEFT["count"] = 2

    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)

    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 3, "")
    assert len(mail.outbox) == 1


def test_a_provider_that_never_recovers_gives_up_after_the_last_attempt(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "notifications.tests.flaky_email.FlakyEmailBackend"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    flaky_email.FAILURES_LEFT["count"] = 100

    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)

    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert "SMTPServerDisconnected" in delivery.last_error
    assert mail.outbox == []
    flaky_email.FAILURES_LEFT["count"] = 0


def _three_deposits(user) -> list[Notification]:
    context = {"amount": "$10.00"}
    events = [
        Event(user_id=user.pk, kind="deposit_settled", event_key=f"transfer:{n}", context=context) for n in (1, 2, 3)
    ]
    return [notification for notification, _ in notifications_record(events)]


@pytest.fixture
def email_backend(settings):
    """Select one of flaky_email's backends; its counters start clean and are left clean."""

    def select(name: str):
        settings.EMAIL_BACKEND = f"notifications.tests.flaky_email.{name}"
        return flaky_email

    flaky_email.SENT_THROUGH.clear()
    yield select
    flaky_email.FAILURES_LEFT["count"] = flaky_email.CRASH_AT["message"] = 0
    flaky_email.SENT_THROUGH.clear()


def test_a_batch_of_notifications_is_emailed_over_one_connection(
    alice, email_backend, django_capture_on_commit_callbacks
):
    backend = email_backend("FlakyEmailBackend")

    with django_capture_on_commit_callbacks(execute=True):
        _three_deposits(alice)

    assert len(mail.outbox) == 3
    assert len(backend.SENT_THROUGH) == 3 and len(set(backend.SENT_THROUGH)) == 1
    assert set(Delivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}


def test_an_email_the_provider_refuses_in_a_batch_is_retried_alone(
    alice, email_backend, django_capture_on_commit_callbacks
):
    email_backend("FlakyEmailBackend").FAILURES_LEFT["count"] = 1

    with django_capture_on_commit_callbacks(execute=True):
        first, second, third = _three_deposits(alice)

    assert len(mail.outbox) == 3  # eager: the retry ran at once
    attempts = dict(Delivery.objects.values_list("notification_id", "attempts"))
    assert (attempts[first.pk], attempts[second.pk], attempts[third.pk]) == (2, 1, 1)
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_worker_killed_mid_batch_leaves_the_rest_for_the_redelivered_batch_and_never_resends(
    alice, email_backend, django_capture_on_commit_callbacks
):
    email_backend("CrashingEmailBackend").CRASH_AT["message"] = 2
    with pytest.raises(SystemExit), django_capture_on_commit_callbacks(execute=True):
        first, second, third = _three_deposits(alice)
    assert len(mail.outbox) == 1

    deliveries_send.apply(args=[[str(n.pk) for n in Notification.objects.all()]])  # acks_late: the message again

    statuses = dict(Delivery.objects.values_list("notification__event_key", "status"))
    # The one being sent when the worker died may have left: it is never sent twice, the row shows it.
    assert statuses == {
        "transfer:1": DeliveryStatus.SENT,
        "transfer:2": DeliveryStatus.SENDING,
        "transfer:3": DeliveryStatus.SENT,
    }
    assert len(mail.outbox) == 2


def test_email_switched_off_sends_nothing_but_keeps_the_in_app_notification(alice, django_capture_on_commit_callbacks):
    preference_update(user=alice, category="transfers", email=False)

    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)

    assert notification.read_at is None
    assert not Delivery.objects.exists()
    assert mail.outbox == []


def test_in_app_switched_off_keeps_the_row_read_and_uncounted(alice, django_capture_on_commit_callbacks):
    preference_update(user=alice, category="transfers", in_app=False)

    with django_capture_on_commit_callbacks(execute=True):
        notification, _ = record(alice)

    assert notification.read_at is not None
    assert len(mail.outbox) == 1


def test_security_email_is_sent_even_if_the_row_says_otherwise(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record(alice, kind="security_new_login", key="audit:1")

    assert len(mail.outbox) == 1
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


def test_security_email_cannot_be_turned_off(alice):

    with pytest.raises(DomainError) as refused:
        preference_update(user=alice, category="security", email=False)

    assert refused.value.code == "security_email_required"
    assert not alice.notification_preferences.exists()


def test_kyc_decisions_are_not_emailed_twice(alice, django_capture_on_commit_callbacks):
    """accounts already emails KYC decisions: the notification is in-app only."""
    with django_capture_on_commit_callbacks(execute=True):
        record(alice, kind="kyc_approved", key="audit:2")

    assert not Delivery.objects.exists()
    assert mail.outbox == []
