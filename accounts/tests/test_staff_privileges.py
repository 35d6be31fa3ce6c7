"""Staff cannot raise their own rights, impersonate customers or approve their own records (issue 16, item 2).

alice is a customer; carol and frank are Compliance officers; dave is Support; sam is a superuser.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import AccountRestriction, AuditEvent, KYCApplication, User
from accounts.tests.factories import DEFAULT_PASSWORD, KYCApplicationFactory, UserFactory
from accounts.tests.sessions import mfa_client
from portfolios import services as portfolio_services
from portfolios.models import CashAdjustment
from portfolios.services import account_open
from speedtrade.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def frank(db):
    """A second Compliance officer."""
    return UserFactory(email="frank@example.com", first_name="Frank", staff_group="Compliance")


@pytest.fixture
def sam(db):
    return UserFactory(email="sam@example.com", first_name="Sam", is_staff=True, is_superuser=True)


@pytest.fixture
def sam_admin(sam):
    return mfa_client(sam)


def _user_form(user, **changes):
    """The user change form as the admin posts it, with `changes` on top."""
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def _change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def _password_url(user):
    return reverse("admin:auth_user_password_change", args=[user.pk])


class TestPrivileges:
    def test_carol_cannot_make_herself_superuser(self, carol, carol_admin):
        response = carol_admin.post(_change_url(carol), _user_form(carol, is_staff="on", is_superuser="on"))
        assert response.status_code == 403
        carol.refresh_from_db()
        assert not carol.is_superuser
        assert not carol.has_perm("accounts.change_user")

    def test_even_with_change_user_carol_changes_no_privileges_and_no_email(self, carol, carol_admin, alice):
        """Should someone grant her `change_user`, the form still keeps privileges and logins out of her reach."""
        carol.user_permissions.add(Permission.objects.get(codename="change_user"))
        second_login = UserFactory(email="carol.two@example.com", is_staff=True)
        compliance = Group.objects.get(name="Compliance")
        for user in (carol, second_login):
            response = carol_admin.post(
                _change_url(user),
                _user_form(user, is_staff="on", is_superuser="on", groups=str(compliance.pk), first_name="Renamed"),
            )
            assert response.status_code == 302, response.content.decode()[:2000]
        carol_admin.post(_change_url(alice), _user_form(alice, email="carol+alice@example.com"))
        carol.refresh_from_db(), second_login.refresh_from_db(), alice.refresh_from_db()
        assert not carol.is_superuser and not second_login.is_superuser
        assert not second_login.groups.filter(name="Compliance").exists()
        assert second_login.first_name == "Renamed"  # what she may change, she changes
        assert alice.email == "alice@example.com"

    def test_sam_grants_compliance_to_another_login_but_not_rights_to_himself(self, sam, sam_admin):
        erin = UserFactory(email="erin@example.com", is_staff=True)
        compliance = Group.objects.get(name="Compliance")
        response = sam_admin.post(_change_url(erin), _user_form(erin, is_staff="on", groups=str(compliance.pk)))
        assert response.status_code == 302
        assert erin.groups.filter(name="Compliance").exists()

        sam_admin.post(_change_url(sam), _user_form(sam, is_staff="on", groups=str(compliance.pk)))
        sam.refresh_from_db()
        assert sam.is_superuser  # the unticked box changed nothing: the fields are read-only on his own user
        assert not sam.groups.exists()
        assert "is_superuser" not in sam_admin.get(_change_url(sam)).context["adminform"].form.fields

    def test_only_superusers_add_logins(self, carol, carol_admin, sam_admin):
        carol.user_permissions.add(Permission.objects.get(codename="add_user"))
        assert carol_admin.get(reverse("admin:accounts_user_add")).status_code == 403
        assert sam_admin.get(reverse("admin:accounts_user_add")).status_code == 200


class TestPasswords:
    def test_no_one_sets_a_customers_password_not_even_sam(self, alice, sam_admin, carol_admin):
        for browser in (sam_admin, carol_admin):
            response = browser.post(
                _password_url(alice), {"password1": "n3w-Secret-pass!", "password2": "n3w-Secret-pass!"}, follow=True
            )
            assert "password reset email" in response.content.decode()
        alice.refresh_from_db()
        assert alice.check_password(DEFAULT_PASSWORD)

    def test_sam_sets_a_staff_members_password(self, sam_admin, carol):
        response = sam_admin.post(
            _password_url(carol),
            {"password1": "n3w-Secret-pass!", "password2": "n3w-Secret-pass!", "usable_password": "true"},
        )
        assert response.status_code == 302
        carol.refresh_from_db()
        assert carol.check_password("n3w-Secret-pass!")

    def test_carol_cannot_set_a_staff_members_password(self, carol, carol_admin, dave):
        response = carol_admin.post(
            _password_url(dave), {"password1": "n3w-Secret-pass!", "password2": "n3w-Secret-pass!"}, follow=True
        )
        assert "Only a superuser can set a password" in response.content.decode()
        dave.refresh_from_db()
        assert dave.check_password(DEFAULT_PASSWORD)

    def test_support_sends_alice_a_password_reset_email(self, alice, dave, dave_admin):
        url = reverse("admin:accounts_customer_password_reset", args=[alice.pk])
        page = dave_admin.get(reverse("admin:accounts_customer_change", args=[alice.pk])).content.decode()
        assert url in page
        response = dave_admin.post(url, follow=True)
        assert "A password reset email is on its way to alice@example.com." in response.content.decode()
        assert [message.to for message in mail.outbox] == [["alice@example.com"]]
        assert "/accounts/password/reset/key/" in mail.outbox[0].body
        event = AuditEvent.objects.get(action="account.password_reset_sent")
        assert (event.actor, event.subject_user) == (dave, alice)
        alice.refresh_from_db()
        assert alice.check_password(DEFAULT_PASSWORD)


class TestOwnRecords:
    def test_carol_cannot_decide_her_own_kyc_application(self, carol, carol_admin, frank):
        KYCApplicationFactory(user=carol)
        application = services.kyc_submit(user=carol)
        for decide in (services.kyc_review_start, services.kyc_approve, services.kyc_reject):
            kwargs = {} if decide is services.kyc_review_start else {"reason": "looks fine"}
            with pytest.raises(DomainError) as refusal:
                decide(application=application, actor=carol, **kwargs)
            assert refusal.value.code == "own_record"
        url = reverse("admin:accounts_kycapplication_decide", args=[application.pk, "approve"])
        response = carol_admin.post(url, {"reason": "ok", "kyc_level": "2"}, follow=True)
        assert "You cannot decide on your own KYC application" in response.content.decode()
        assert KYCApplication.objects.get(pk=application.pk).status == "submitted"
        assert not AuditEvent.objects.filter(action="kyc.approved").exists()

        services.kyc_approve(application=application, actor=frank, reason="Checked by a colleague.")
        assert KYCApplication.objects.get(pk=application.pk).status == "approved"

    def test_carol_cannot_lift_a_restriction_on_her_own_account(self, carol, frank):
        account = account_open(user=carol)
        services.account_restriction_set(
            account=account, kind="trading", blocked=True, actor=frank, reason="Review", customer_message="under_review"
        )
        with pytest.raises(DomainError, match="your own account"):
            services.account_restriction_set(account=account, kind="trading", blocked=False, actor=carol, reason="x")
        account.refresh_from_db()
        assert account.trading_blocked
        assert AccountRestriction.objects.get(account=account).lifted_at is None

    def test_carol_cannot_propose_or_approve_an_adjustment_of_her_own_account(self, carol, frank):
        account = account_open(user=carol)
        with pytest.raises(DomainError) as refusal:
            portfolio_services.cash_adjustment_propose(
                account=account, amount=Decimal("500.00"), reason="bonus", proposed_by=carol
            )
        assert refusal.value.code == "own_record"
        adjustment = portfolio_services.cash_adjustment_propose(
            account=account, amount=Decimal("500.00"), reason="bonus", proposed_by=frank
        )
        with pytest.raises(DomainError) as refusal:
            portfolio_services.cash_adjustment_approve(adjustment=adjustment, approved_by=carol)
        assert refusal.value.code == "own_record"
        assert CashAdjustment.objects.get().status == "proposed"


def test_staff_are_not_customers_for_password_resets(carol, dave):
    with pytest.raises(DomainError, match="Staff reset their own passwords"):
        services.customer_password_reset_send(customer=carol, actor=dave, request=None)
    assert not User.objects.filter(pk=carol.pk, is_superuser=True).exists()
