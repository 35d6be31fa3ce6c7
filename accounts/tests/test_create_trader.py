from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent, KYCApplication, User
from marketdata.models import Asset, LatestQuote
from portfolios.selectors import portfolio_history, primary_account, trading_refusal_reason

pytestmark = pytest.mark.django_db


def test_creates_a_verified_user_who_can_log_in(client):
    call_command("create_trader", "trader@example.com", "--password", "a-long-unusual-passphrase")
    user = User.objects.get(email="trader@example.com")
    assert user.emailaddress_set.get().verified
    assert not user.is_staff
    response = client.post("/accounts/login/", {"login": "trader@example.com", "password": "a-long-unusual-passphrase"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_staff_option_puts_the_user_in_the_group():
    call_command(
        "create_trader", "carol@example.com", "--password", "a-long-unusual-passphrase", "--staff", "compliance"
    )
    carol = User.objects.get(email="carol@example.com")
    assert carol.is_staff and not carol.is_superuser
    assert list(carol.groups.values_list("name", flat=True)) == ["Compliance"]


def test_running_twice_updates_instead_of_duplicating():
    for _ in range(2):
        call_command("create_trader", "trader@example.com", "--password", "a-long-unusual-passphrase")
    assert User.objects.filter(email="trader@example.com").count() == 1


def test_weak_passwords_are_refused():
    with pytest.raises(CommandError, match="too short"):
        call_command("create_trader", "trader@example.com", "--password", "short")
    assert not User.objects.exists()


def test_kyc_approved_files_a_complete_application_and_activates_the_account():
    call_command("create_trader", "trader@example.com", "--password", "a-long-unusual-passphrase", "--kyc", "approved")
    user = User.objects.get(email="trader@example.com")
    application = KYCApplication.objects.get(user=user)
    assert (application.status, application.kyc_level) == ("approved", 2)
    account = primary_account(user=user)
    assert account.can_trade and trading_refusal_reason(account=account) is None
    approval = AuditEvent.objects.get(action="kyc.approved", subject_user=user)
    assert approval.actor is None and approval.actor_type == "system"


def test_kyc_pending_files_a_submitted_application_that_cannot_trade_yet():
    call_command("create_trader", "trader@example.com", "--password", "a-long-unusual-passphrase", "--kyc", "pending")
    user = User.objects.get(email="trader@example.com")
    assert KYCApplication.objects.get(user=user).status == "submitted"
    assert trading_refusal_reason(account=primary_account(user=user)) == "KYC not approved"


def test_kyc_is_refused_for_staff():
    with pytest.raises(CommandError, match="customers"):
        call_command(
            "create_trader",
            "c@example.com",
            "--password",
            "a-long-unusual-passphrase",
            "--staff",
            "support",
            "--kyc",
            "approved",
        )


def test_seed_demo_creates_trader_staff_and_a_compliance_queue():
    for _ in range(2):  # idempotent
        call_command("seed_demo")
    assert set(User.objects.values_list("email", flat=True)) == {
        "demo@speedtrade.local",
        "compliance@speedtrade.local",
        "admin@speedtrade.local",
        "applicant1@speedtrade.local",
        "applicant2@speedtrade.local",
        "applicant3@speedtrade.local",
    }
    assert KYCApplication.objects.get(user__email="demo@speedtrade.local").status == "approved"
    assert KYCApplication.objects.filter(status="submitted").count() == 3
    # The demo starts with last quotes and an equity curve (issue 18): a weekend `make run` is not empty.
    assert LatestQuote.objects.count() == Asset.objects.count()
    demo = primary_account(user=User.objects.get(email="demo@speedtrade.local"))
    history = portfolio_history(account=demo, period="1W", timeframe="1H")
    assert len(history.equity) > 24 and set(history.equity) == {Decimal("1000.00")}  # cash only, written once
    assert len(portfolio_history(account=demo, period="1D", timeframe="15Min").equity) >= 90  # intraday points


def test_cash_option_funds_the_account_once():
    from portfolios.selectors import account_cash_balance, primary_account

    for _ in range(2):
        call_command(
            "create_trader",
            "rich@example.com",
            "--password",
            "a-long-unusual-passphrase",
            "--kyc",
            "approved",
            "--cash",
            "1000",
        )
    account = primary_account(user=User.objects.get(email="rich@example.com"))
    assert account_cash_balance(account=account) == Decimal("1000.00")
    assert account.transfers.get().status == "settled"


@pytest.mark.parametrize("role", [["--staff", "compliance"], ["--staff", "support"], ["--superuser"]])
def test_staff_and_superusers_are_refused_in_production(settings, role):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="createsuperuser"):
        call_command("create_trader", "operator@example.com", "--password", "a-long-unusual-passphrase", *role)
    assert not User.objects.exists()


def test_customers_can_still_be_created_in_production(settings):
    settings.PRODUCTION = True
    call_command("create_trader", "trader@example.com", "--password", "a-long-unusual-passphrase")
    assert not User.objects.get(email="trader@example.com").is_staff


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="refuses to run in production"):
        call_command("seed_demo")
    assert not User.objects.exists()
