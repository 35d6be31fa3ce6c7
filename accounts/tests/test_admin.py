"""The admin as compliance and support staff use it."""

import csv
import io

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.admin_export import csv_response
from accounts.models import AccountRestriction, AuditEvent, KYCApplication
from accounts.tests.factories import DEFAULT_PASSWORD, TAX_ID, KYCApplicationFactory, UserFactory
from accounts.tests.sessions import staff_day
from portfolios.services import account_open

pytestmark = pytest.mark.django_db


def _change_url(application):
    return reverse("admin:accounts_kycapplication_change", args=[application.pk])


def _decide_url(application, decision):
    return reverse("admin:accounts_kycapplication_decide", args=[application.pk, decision])


class TestMFAGate:
    def test_anonymous_visitors_go_to_the_allauth_login_not_the_admin_form(self):
        for path in ("/admin/", "/admin/login/"):
            response = Client().get(path)
            assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Fadmin%2F"

    def test_customers_are_refused(self, alice):
        browser = Client()
        browser.force_login(alice)
        assert browser.get("/admin/").status_code == 403

    @pytest.mark.parametrize("superuser", [False, True])
    def test_staff_without_totp_are_sent_to_set_it_up(self, superuser):
        staff = UserFactory(is_staff=True, is_superuser=superuser)
        browser = Client()
        browser.force_login(staff)
        response = browser.get("/admin/accounts/kycapplication/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/2fa/totp/activate/")

    def test_a_staff_session_that_skipped_mfa_is_logged_out(self, carol):
        TOTP.activate(carol, generate_totp_secret())
        browser = Client()
        browser.force_login(carol)  # password only: e.g. logged in before enabling TOTP
        response = browser.get("/admin/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert "_auth_user_id" not in browser.session

    def test_staff_logging_in_with_password_and_totp_code_reach_the_admin(self, carol):
        secret = generate_totp_secret()
        TOTP.activate(carol, secret)
        browser = Client()
        response = browser.post("/accounts/login/", {"login": carol.email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/")
        code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
        browser.post("/accounts/2fa/authenticate/", {"code": code})
        assert browser.get("/admin/").status_code == 200

    def test_staff_with_mfa_reach_the_admin(self, carol_admin, dave_admin):
        assert carol_admin.get("/admin/").status_code == 200
        assert dave_admin.get("/admin/").status_code == 200


class TestReviewQueue:
    def test_oldest_submission_first_filterable_and_searchable(self, carol_admin):
        first, second = (UserFactory(first_name=name) for name in ("First", "Second"))
        for user in (first, second):
            KYCApplicationFactory(user=user)
            services.kyc_submit(user=user)
        KYCApplicationFactory(user=UserFactory(first_name="Drafty"))
        response = carol_admin.get("/admin/accounts/kycapplication/?status__exact=submitted")
        content = response.content.decode()
        assert response.status_code == 200
        assert content.index(first.email) < content.index(second.email) and "Drafty" not in content
        response = carol_admin.get(f"/admin/accounts/kycapplication/?q={second.email}")
        assert second.email in response.content.decode() and first.email not in response.content.decode()

    def test_detail_shows_the_masked_tax_id_and_documents_and_is_audited(
        self, alice, alice_submitted, carol, carol_admin
    ):
        response = carol_admin.get(_change_url(alice_submitted))
        content = response.content.decode()
        assert response.status_code == 200
        assert "•••••6789" in content and "123456789" not in content and TAX_ID not in content
        document = alice_submitted.documents.first()
        assert reverse("onboarding:document", args=[document.pk]) in content
        event = AuditEvent.objects.get(action="kyc.record_viewed")
        assert (event.actor, event.subject_user) == (carol, alice)

    def test_status_fields_cannot_be_edited_in_the_admin(self, alice_submitted, carol_admin):
        response = carol_admin.post(_change_url(alice_submitted), {"status": "approved", "kyc_level": 2})
        assert response.status_code == 403
        alice_submitted.refresh_from_db()
        assert alice_submitted.status == "submitted"

    def test_approve_through_the_intermediate_form(self, alice, alice_account, alice_submitted, carol, carol_admin):
        assert carol_admin.get(_decide_url(alice_submitted, "approve")).status_code == 200
        response = carol_admin.post(_decide_url(alice_submitted, "approve"), {"reason": "All good", "kyc_level": "2"})
        assert response.status_code == 302
        alice_account.refresh_from_db()
        assert alice_account.status == "active"
        event = AuditEvent.objects.get(action="kyc.approved")
        assert (event.actor, event.after["reason"], event.ip_address) == (carol, "All good", "127.0.0.1")

    def test_a_decision_without_a_reason_shows_the_form_again_and_changes_nothing(self, alice_submitted, carol_admin):
        response = carol_admin.post(_decide_url(alice_submitted, "reject"), {"reason": ""})
        assert response.status_code == 200 and "This field is required" in response.content.decode()
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "submitted"

    def test_reject_through_the_intermediate_form(self, alice_submitted, carol, carol_admin):
        carol_admin.post(_decide_url(alice_submitted, "reject"), {"reason": "Fake ID"})
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "rejected"
        assert AuditEvent.objects.filter(action="kyc.rejected", actor=carol).exists()

    def test_request_action_names_the_missing_items(self, alice, alice_submitted, carol, carol_admin):
        data = {"reason": "Need a clearer ID", "requested_documents": ["id_front"], "requested_fields": ["city"]}
        carol_admin.post(_decide_url(alice_submitted, "request_action"), data)
        change = alice_submitted.status_changes.last()
        assert (change.to_status, change.requested_documents, change.requested_fields) == (
            "action_required",
            ["id_front"],
            ["city"],
        )
        assert AuditEvent.objects.filter(action="kyc.action_required", actor=carol).exists()

    def test_request_action_without_items_is_refused_in_the_form(self, alice_submitted, carol_admin):
        response = carol_admin.post(_decide_url(alice_submitted, "request_action"), {"reason": "?"})
        assert "Name at least one missing document or field." in response.content.decode()
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "submitted"

    def test_start_review(self, alice_submitted, carol_admin):
        carol_admin.post(_decide_url(alice_submitted, "review"))
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "in_review"

    def test_an_impossible_transition_is_a_message_not_a_change(self, alice, carol_admin):
        draft = KYCApplicationFactory(user=alice)
        response = carol_admin.post(_decide_url(draft, "approve"), {"reason": "x", "kyc_level": "2"}, follow=True)
        assert "draft application cannot become approved" in response.content.decode()
        assert KYCApplication.objects.get(pk=draft.pk).status == "draft"

    def test_support_sees_the_kyc_status_but_not_the_application(self, alice, alice_submitted, dave_admin):
        customers = dave_admin.get(reverse("admin:accounts_customer_changelist")).content.decode()
        assert "alice@example.com" in customers and "submitted" in customers
        assert dave_admin.get(reverse("admin:accounts_kycapplication_changelist")).status_code == 403
        assert dave_admin.get(_change_url(alice_submitted)).status_code == 403
        assert not AuditEvent.objects.filter(action="kyc.record_viewed").exists()
        for decision in ("approve", "reject", "request_action", "review"):
            assert dave_admin.post(_decide_url(alice_submitted, decision), {"reason": "x"}).status_code == 403
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "submitted"


class TestCustomers:
    def _restrict_url(self, user):
        return reverse("admin:accounts_customer_restrict", args=[user.pk])

    def test_compliance_blocks_and_lifts_trading_with_a_reason(self, alice, alice_account, carol, carol_admin):
        data = {
            "account": alice_account.pk,
            "kind": "trading",
            "blocked": "true",
            "reason": "Margin call unpaid",
            "customer_message": "information_needed",
        }
        assert carol_admin.post(self._restrict_url(alice), data).status_code == 302
        alice_account.refresh_from_db()
        assert alice_account.trading_blocked
        assert AuditEvent.objects.filter(action="account.trading_blocked", actor=carol).exists()
        carol_admin.post(self._restrict_url(alice), {**data, "blocked": "false", "reason": "Paid"})
        alice_account.refresh_from_db()
        assert not alice_account.trading_blocked
        restriction = AccountRestriction.objects.get()
        assert (restriction.customer_message, restriction.lift_reason) == ("information_needed", "Paid")

    def test_blocking_needs_the_message_the_customer_will_see(self, alice, alice_account, carol_admin):
        data = {"account": alice_account.pk, "kind": "trading", "blocked": "true", "reason": "Testing a block"}
        response = carol_admin.post(self._restrict_url(alice), data)
        assert response.status_code == 200 and "Choose the message the customer will see." in response.content.decode()
        alice_account.refresh_from_db()
        assert not alice_account.trading_blocked and not AccountRestriction.objects.exists()

    def test_freezing_twice_is_shown_as_an_error(self, alice, alice_account, carol_admin):
        data = {
            "account": alice_account.pk,
            "kind": "account",
            "blocked": "true",
            "reason": "Fraud",
            "customer_message": "regulatory",
        }
        carol_admin.post(self._restrict_url(alice), data)
        response = carol_admin.post(self._restrict_url(alice), data)
        assert response.status_code == 200 and "Already in place" in response.content.decode()

    def test_another_customers_account_cannot_be_chosen(self, alice, bob, carol_admin):
        bobs = account_open(user=bob)
        data = {"account": bobs.pk, "kind": "trading", "blocked": "true", "reason": "x"}
        assert carol_admin.post(self._restrict_url(alice), data).status_code == 200
        bobs.refresh_from_db()
        assert not bobs.trading_blocked

    def test_support_cannot_restrict(self, alice, alice_account, dave_admin):
        data = {"account": alice_account.pk, "kind": "trading", "blocked": "true", "reason": "x"}
        assert dave_admin.post(self._restrict_url(alice), data).status_code == 403
        alice_account.refresh_from_db()
        assert not alice_account.trading_blocked

    def test_staff_are_not_listed_as_customers(self, alice, carol, carol_admin):
        content = carol_admin.get("/admin/accounts/customer/").content.decode()
        assert alice.email in content and "carol@example.com</a>" not in content


class TestAuditTrailAdmin:
    def test_read_only(self, alice, carol_admin):
        services.kyc_draft_save(user=alice, changes={"given_name": "A"})
        event = AuditEvent.objects.get(action="kyc.draft_saved")
        assert (
            carol_admin.get(reverse("admin:accounts_auditevent_changelist") + "?actor_type__exact=user").status_code
            == 200
        )
        change_url = reverse("admin:accounts_auditevent_change", args=[event.pk])
        assert carol_admin.post(change_url, {"action": "forged"}).status_code == 403
        assert carol_admin.get(reverse("admin:accounts_auditevent_add")).status_code == 403
        assert carol_admin.post(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403

    def test_csv_export_of_one_users_events_in_a_date_range(self, alice, bob, carol, carol_admin):
        services.kyc_draft_save(user=alice, changes={"given_name": "Alice"})
        services.kyc_draft_save(user=bob, changes={"given_name": "Bob"})
        today = staff_day().isoformat()
        response = carol_admin.post(
            reverse("admin:accounts_auditevent_export"), {"customer_email": alice.email, "start": today, "end": today}
        )
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        # The export is itself an event about alice, recorded before the rows are read.
        assert [row["action"] for row in rows] == ["kyc.started", "kyc.draft_saved", "records.exported"]
        assert all("bob" not in str(row) for row in rows)
        exported = AuditEvent.objects.get(action="records.exported")
        assert (exported.actor, exported.subject_user, exported.after["export"]) == (carol, alice, "audit-events")

    def test_csv_export_refuses_a_reversed_range(self, alice, carol_admin):
        response = carol_admin.post(
            reverse("admin:accounts_auditevent_export"),
            {"customer_email": alice.email, "start": "2026-02-01", "end": "2026-01-01"},
        )
        assert response.status_code == 200 and "The end date is before the start date." in response.content.decode()
        assert not AuditEvent.objects.filter(action="records.exported").exists()

    def test_support_cannot_export(self, alice, dave_admin):
        response = dave_admin.post(
            reverse("admin:accounts_auditevent_export"),
            {"customer_email": alice.email, "start": "2026-01-01", "end": "2026-01-02"},
        )
        assert response.status_code == 403

    def test_admin_changes_to_users_are_audited(self, alice, carol, carol_admin):
        carol.user_permissions.add(Permission.objects.get(codename="change_user"))
        url = reverse("admin:accounts_user_change", args=[alice.pk])
        data = {
            "email": alice.email,
            "first_name": "Alicia",
            "last_name": alice.last_name,
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        }
        response = carol_admin.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        event = AuditEvent.objects.get(action="admin.user_changed")
        assert (event.actor, event.subject_user) == (carol, alice)


def test_csv_cells_that_a_spreadsheet_would_execute_are_neutralised():
    response = csv_response(filename="x.csv", columns=[("name", lambda value: value)], records=["=cmd()", "+1", "ok"])
    assert response.content.decode().splitlines() == ["name", "'=cmd()", "'+1", "ok"]
