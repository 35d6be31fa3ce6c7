"""Staff sessions end after STAFF_IDLE_TIMEOUT_SECONDS without a request (issue 16); customers' do not."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fifteen_minutes(settings):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 15 * 60


def test_carol_keeps_working_while_she_is_active(carol_admin):
    start = timezone.now()
    with freeze_time(start):
        assert carol_admin.get("/admin/").status_code == 200
    for minutes in (14, 28, 42):  # never 15 minutes apart
        with freeze_time(start + timedelta(minutes=minutes)):
            assert carol_admin.get("/admin/").status_code == 200
    assert not AuditEvent.objects.filter(action="auth.idle_logout").exists()


def test_carol_is_signed_out_after_fifteen_idle_minutes(carol, carol_admin):
    start = timezone.now()
    with freeze_time(start):
        assert carol_admin.get("/admin/").status_code == 200
    with freeze_time(start + timedelta(minutes=16)):
        response = carol_admin.get("/admin/accounts/customer/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Faccounts%2Fcustomer%2F"
        login_page = carol_admin.get(response["Location"]).content.decode()
    assert "signed out after 15 minutes without activity" in login_page
    assert "_auth_user_id" not in carol_admin.session
    event = AuditEvent.objects.get(action="auth.idle_logout")
    assert (event.actor, event.after["idle_seconds"]) == (carol, 16 * 60)


def test_alices_customer_session_has_no_staff_timeout(alice):
    browser = Client()
    browser.force_login(alice)
    start = timezone.now()
    with freeze_time(start):
        assert browser.get("/").status_code == 200
    with freeze_time(start + timedelta(hours=2)):
        assert browser.get("/").status_code == 200
    assert "_auth_user_id" in browser.session
