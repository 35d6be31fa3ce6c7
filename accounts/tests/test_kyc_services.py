"""KYC rules: drafts, submission, staff decisions with history, emails, audit events."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, KYCApplication, KYCStatusChange
from accounts.selectors import kyc_status
from accounts.tests.factories import KYCApplicationFactory
from portfolios.models import Account
from speedtrade.errors import DomainError, InvalidInput, NotPermitted

pytestmark = pytest.mark.django_db


def _field_errors(excinfo) -> dict:
    return excinfo.value.fields


class TestDraft:
    def test_a_draft_is_started_and_saved_field_by_field(self, alice):
        application = services.kyc_draft_save(user=alice, changes={"given_name": "Alice", "country": "US"})
        assert (application.status, application.given_name, application.email_address) == (
            "draft",
            "Alice",
            "alice@example.com",
        )
        services.kyc_draft_save(user=alice, changes={"family_name": "Liddell"})
        application.refresh_from_db()
        assert (application.given_name, application.family_name) == ("Alice", "Liddell")
        saved = AuditEvent.objects.filter(action="kyc.draft_saved", subject_user=alice).order_by("id")
        assert [event.after["fields"] for event in saved] == [["country", "given_name"], ["family_name"]]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"country": "XX"}, "country"),
            ({"country": "USA"}, "country"),
            ({"country_of_citizenship": "ZZ"}, "country_of_citizenship"),
            ({"country": "US", "state": "XY"}, "state"),
            ({"country": "US", "state": "CA", "postal_code": "9440"}, "postal_code"),
            ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth"),
            ({"date_of_birth": timezone.localdate() - timedelta(days=17 * 365)}, "date_of_birth"),
            ({"date_of_birth": date(1850, 1, 1)}, "date_of_birth"),
            ({"tax_id_type": "USA_SSN", "tax_id": "12-34"}, "tax_id"),
            ({"phone_number": "call me"}, "phone_number"),
            ({"funding_source": ["lottery"]}, "funding_source"),
            ({"trusted_contact_given_name": "Bob"}, "trusted_contact_given_name"),
            ({"favourite_colour": "blue"}, "favourite_colour"),
        ],
    )
    def test_invalid_values_are_refused_with_a_field_error_and_nothing_is_saved(self, alice, changes, field):
        services.kyc_draft_save(user=alice, changes={"given_name": "Alice"})
        with pytest.raises(InvalidInput) as excinfo:
            services.kyc_draft_save(user=alice, changes=changes)
        assert field in _field_errors(excinfo)
        application = KYCApplication.objects.get(user=alice)
        assert all(getattr(application, name, None) in ("", None, []) for name in changes if name != "tax_id")
        assert application.tax_id_encrypted == ""
        assert AuditEvent.objects.filter(action="kyc.draft_saved").count() == 1

    def test_a_person_turning_18_today_is_old_enough(self, alice):
        today = timezone.localdate()
        services.kyc_draft_save(user=alice, changes={"date_of_birth": today.replace(year=today.year - 18)})

    def test_tax_id_is_kept_encrypted_and_shown_masked(self, alice):
        application = services.kyc_draft_save(user=alice, changes={"tax_id_type": "USA_SSN", "tax_id": "123-45-6789"})
        assert application.tax_id_masked == "•••••6789"
        assert "6789" not in application.tax_id_encrypted
        event = AuditEvent.objects.get(action="kyc.draft_saved")
        assert "123456789" not in str(event.after)

    def test_agreements_are_recorded_with_time_and_ip(self, alice, rf):
        request = rf.post("/", REMOTE_ADDR="203.0.113.9")
        application = services.kyc_draft_save(
            user=alice, changes={}, agreements=["customer", "account"], request=request
        )
        agreements = {a.agreement: a for a in application.agreements.all()}
        assert set(agreements) == {"customer", "account"}
        assert agreements["customer"].ip_address == "203.0.113.9" and agreements["customer"].signed_at


class TestSubmit:
    def test_an_incomplete_application_names_every_missing_item(self, alice, alice_account):
        services.kyc_draft_save(user=alice, changes={"given_name": "Alice", "country": "US"})
        with pytest.raises(InvalidInput) as excinfo:
            services.kyc_submit(user=alice)
        errors = _field_errors(excinfo)
        assert {"family_name", "date_of_birth", "tax_id", "state", "documents", "agreements"} <= set(errors)
        assert "given_name" not in errors
        assert KYCApplication.objects.get(user=alice).status == "draft"

    def test_margin_accounts_also_need_the_margin_agreement(self, alice):
        from portfolios.services import account_open

        account_open(user=alice, account_type=Account.Type.MARGIN)
        KYCApplicationFactory(user=alice)
        with pytest.raises(InvalidInput) as excinfo:
            services.kyc_submit(user=alice)
        assert _field_errors(excinfo) == {"agreements": ["Accept: Margin agreement."]}

    def test_a_complete_application_enters_the_queue_with_its_history(self, alice, alice_submitted):
        assert alice_submitted.status == "submitted" and alice_submitted.submitted_at
        change = KYCStatusChange.objects.get(application=alice_submitted)
        assert (change.from_status, change.to_status, change.actor) == ("draft", "submitted", alice)
        assert AuditEvent.objects.filter(action="kyc.submitted", actor=alice, subject_user=alice).exists()

    def test_submitting_twice_is_refused(self, alice, alice_submitted):
        with pytest.raises(DomainError, match="already submitted") as excinfo:
            services.kyc_submit(user=alice)
        assert excinfo.value.code == "kyc_already_submitted"

    def test_a_submitted_application_cannot_be_edited(self, alice, alice_submitted):
        with pytest.raises(DomainError, match="can no longer be changed"):
            services.kyc_draft_save(user=alice, changes={"given_name": "Mallory"})
        assert KYCApplication.objects.get(user=alice).given_name == "Alice"


class TestDecisions:
    def test_approval_activates_the_account_and_emails_the_user(
        self, alice, alice_account, alice_submitted, carol, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.kyc_approve(application=alice_submitted, actor=carol, reason="Documents match.")
        alice_account.refresh_from_db()
        assert alice_account.status == "active" and alice_account.can_trade
        assert kyc_status(user=alice).approved and kyc_status(user=alice).kyc_level == 2
        event = AuditEvent.objects.get(action="kyc.approved")
        assert (event.actor, event.actor_type, event.subject_user) == (carol, "staff", alice)
        assert event.before == {"status": "submitted"} and event.after["reason"] == "Documents match."
        assert AuditEvent.objects.filter(action="account.activated", target_id=str(alice_account.pk)).exists()
        assert [m.to for m in mailoutbox] == [["alice@example.com"]]
        assert "approved" in mailoutbox[0].subject

    def test_no_email_leaves_before_the_decision_commits(self, alice_submitted, carol, mailoutbox):
        services.kyc_approve(application=alice_submitted, actor=carol, reason="ok")
        assert mailoutbox == []  # the test transaction never commits

    def test_rejection_keeps_the_account_onboarding(
        self, alice, alice_account, alice_submitted, carol, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.kyc_reject(application=alice_submitted, actor=carol, reason="Identity could not be verified.")
        alice_account.refresh_from_db()
        assert alice_account.status == "onboarding" and not alice_account.can_trade
        assert kyc_status(user=alice).status == "rejected"
        assert "Identity could not be verified." in mailoutbox[0].body
        assert AuditEvent.objects.filter(action="kyc.rejected", actor=carol).exists()

    @pytest.mark.parametrize("decide", [services.kyc_approve, services.kyc_reject])
    def test_deciding_without_a_reason_is_refused(self, alice_submitted, carol, decide):
        with pytest.raises(InvalidInput) as excinfo:
            decide(application=alice_submitted, actor=carol, reason="  ")
        assert "reason" in _field_errors(excinfo)
        alice_submitted.refresh_from_db()
        assert alice_submitted.status == "submitted"
        assert not AuditEvent.objects.filter(action__in=["kyc.approved", "kyc.rejected"]).exists()

    def test_approving_a_draft_is_refused(self, alice, carol):
        application = KYCApplicationFactory(user=alice)
        with pytest.raises(DomainError, match="draft application cannot become approved"):
            services.kyc_approve(application=application, actor=carol, reason="ok")

    def test_a_decided_application_cannot_be_decided_again(self, alice_submitted, carol):
        services.kyc_reject(application=alice_submitted, actor=carol, reason="no")
        with pytest.raises(DomainError):
            services.kyc_approve(application=alice_submitted, actor=carol, reason="changed my mind")

    def test_support_cannot_decide(self, alice_submitted, dave):
        for decide in (services.kyc_approve, services.kyc_reject):
            with pytest.raises(NotPermitted):
                decide(application=alice_submitted, actor=dave, reason="ok")
        with pytest.raises(NotPermitted):
            services.kyc_request_action(application=alice_submitted, actor=dave, reason="x", requested_fields=["city"])
        alice_submitted.refresh_from_db()
        assert alice_submitted.status == "submitted"

    def test_review_start_moves_the_case_to_in_review(self, alice_submitted, carol):
        services.kyc_review_start(application=alice_submitted, actor=carol)
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "in_review"
        assert AuditEvent.objects.filter(action="kyc.in_review", actor=carol).exists()


class TestActionRequired:
    def test_the_user_sees_exactly_what_is_missing_and_resubmitting_returns_the_case_to_the_queue(
        self, alice, alice_submitted, carol, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.kyc_request_action(
                application=alice_submitted,
                actor=carol,
                reason="The proof of address is older than three months.",
                requested_documents=["proof_of_address"],
                requested_fields=["street_address"],
            )
        status = kyc_status(user=alice)
        assert status.status == "action_required"
        assert (status.requested_documents, status.requested_fields) == (["proof_of_address"], ["street_address"])
        assert status.reason == "The proof of address is older than three months."
        assert "Proof of address" in mailoutbox[0].body and "street address" in mailoutbox[0].body

        services.kyc_draft_save(user=alice, changes={"street_address": "1 Infinite Loop"})
        application = services.kyc_submit(user=alice)
        assert application.status == "submitted"
        assert kyc_status(user=alice).requested_documents == []
        history = list(application.status_changes.values_list("from_status", "to_status"))
        assert history == [("draft", "submitted"), ("submitted", "action_required"), ("action_required", "submitted")]

    @pytest.mark.parametrize(
        ("documents", "fields", "error_field"),
        [
            ([], [], "requested_documents"),
            (["selfie"], [], "requested_documents"),
            ([], ["password"], "requested_fields"),
        ],
    )
    def test_a_request_must_name_real_missing_items(self, alice_submitted, carol, documents, fields, error_field):
        with pytest.raises(InvalidInput) as excinfo:
            services.kyc_request_action(
                application=alice_submitted,
                actor=carol,
                reason="Need more",
                requested_documents=documents,
                requested_fields=fields,
            )
        assert error_field in _field_errors(excinfo)
        assert KYCApplication.objects.get(pk=alice_submitted.pk).status == "submitted"
