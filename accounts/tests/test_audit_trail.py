import pytest
from django.db import DatabaseError, transaction
from django.test import RequestFactory

from accounts.audit import audit_event_record
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_records_who_did_what_to_whom_from_where(alice, carol):
    request = RequestFactory().post(
        "/", HTTP_USER_AGENT="Firefox", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    event = audit_event_record(
        action="kyc.approved",
        actor=carol,
        target=alice,
        before={"status": "in_review"},
        after={"status": "approved"},
        request=request,
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_type, event.subject_user) == (carol, "staff", alice)
    assert (event.target_type, event.target_id) == ("accounts.user", str(alice.pk))
    assert (event.ip_address, event.user_agent) == ("198.51.100.7", "Firefox")
    assert event.after == {"status": "approved"}


def test_system_actions_have_no_human_actor(alice):
    event = audit_event_record(action="order.expired", target=alice)
    assert event.actor is None and event.actor_type == "system"


def test_postgresql_refuses_to_update_or_delete_audit_events(alice):
    event = audit_event_record(action="login.succeeded", actor=alice)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="login.failed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "login.succeeded"


def test_signup_opens_a_brokerage_account_in_onboarding(client):
    from portfolios.models import Account

    password = "a-long-unusual-passphrase-42"
    client.post("/accounts/signup/", {"email": "dana@example.com", "password1": password, "password2": password})
    account = Account.objects.get(user__email="dana@example.com")
    assert account.status == Account.Status.ONBOARDING and not account.can_trade
    assert AuditEvent.objects.filter(action="account.opened", subject_user=account.user).exists()
