"""POST/GET/DELETE /api/v1/transfers: happy paths, every refusal, and nothing written on refusal."""

from decimal import Decimal

import pytest
from freezegun import freeze_time

from accounts.models import AuditEvent
from portfolios.models import Transfer
from portfolios.tests.helpers import balances, ledger_row_count

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_deposit_settles_through_the_simulated_rail(alice_api, alice_account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/transfers", {"direction": "incoming", "amount": "150.25"})
    assert response.status_code == 201
    assert response.json()["amount"] == "150.25" and response.json()["status"] == "queued"
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.SETTLED and transfer.rail_reference.startswith("SIM-")
    assert balances(alice_account)["cash"] == D("150.25")
    assert list(AuditEvent.objects.filter(target_id=str(transfer.pk)).values_list("action", flat=True)) == [
        "transfer.settled",
        "transfer.pending",
        "transfer.created",
    ]


def test_a_withdrawal_holds_then_pays_out(alice_api, funded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/transfers", {"direction": "outgoing", "amount": "400"})
    assert response.status_code == 201
    assert Transfer.objects.get(pk=response.json()["id"]).status == Transfer.Status.SETTLED
    assert balances(funded) == {"cash": D("600.00"), "withdrawal_hold": 0}


def test_listing_shows_only_my_transfers(alice_api, funded, bob_account):
    from portfolios.services import deposit_settled_post

    deposit_settled_post(account=bob_account, amount=D("5"))
    body = alice_api.get("/api/v1/transfers").json()
    assert body["count"] == 1 and body["results"][0]["account_id"] == str(funded.pk)


def test_cancel_while_queued_releases_the_hold(alice_api, funded):
    transfer_id = alice_api.post("/api/v1/transfers", {"direction": "outgoing", "amount": "100"}).json()["id"]
    assert alice_api.delete(f"/api/v1/transfers/{transfer_id}").status_code == 204
    assert Transfer.objects.get(pk=transfer_id).status == Transfer.Status.CANCELED
    assert balances(funded) == {"cash": D("1000.00"), "withdrawal_hold": 0}


def test_a_settled_transfer_cannot_be_canceled(alice_api, funded):
    transfer = Transfer.objects.get()  # the settled funding deposit
    response = alice_api.delete(f"/api/v1/transfers/{transfer.pk}")
    assert response.status_code == 422 and response.json()["code"] == "transfer_not_cancelable"
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.SETTLED


def test_another_users_transfer_is_not_found(api_client, bob, funded):
    transfer = Transfer.objects.get()
    api_client.force_authenticate(bob)
    assert api_client.get(f"/api/v1/transfers/{transfer.pk}").status_code == 404
    assert api_client.delete(f"/api/v1/transfers/{transfer.pk}").status_code == 404
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.SETTLED


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"direction": "incoming", "amount": "-5"}, 400, "validation_error", "amount"),
        ({"direction": "incoming", "amount": "0"}, 400, "validation_error", "amount"),
        ({"direction": "incoming", "amount": "ten"}, 400, "validation_error", "amount"),
        ({"direction": "incoming", "amount": "1.001"}, 400, "validation_error", "amount"),
        ({"direction": "incoming", "amount": "NaN"}, 400, "validation_error", "amount"),
        ({"direction": "incoming"}, 400, "validation_error", "amount"),
        ({"direction": "sideways", "amount": "5"}, 400, "validation_error", "direction"),
        ({"direction": "incoming", "amount": "50000.01"}, 422, "amount_too_large", "amount"),
        ({"direction": "outgoing", "amount": "1000.01"}, 422, "insufficient_withdrawable_cash", "amount"),
    ],
)
def test_bad_transfers_are_refused_and_write_nothing(alice_api, funded, payload, status, code, field):
    before = (ledger_row_count(), Transfer.objects.count(), AuditEvent.objects.count())
    response = alice_api.post("/api/v1/transfers", payload)
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    assert (ledger_row_count(), Transfer.objects.count(), AuditEvent.objects.count()) == before


def test_unsettled_proceeds_and_reserved_cash_cannot_be_withdrawn(alice_api, funded, acme):
    from portfolios import services
    from portfolios.tests.conftest import WEDNESDAY

    services.fill_apply(
        account=funded,
        asset=acme,
        side="buy",
        qty=D("10"),
        price=D("10"),
        fee=D("0"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    services.fill_apply(
        account=funded,
        asset=acme,
        side="sell",
        qty=D("10"),
        price=D("10"),
        fee=D("0"),
        executed_at=WEDNESDAY,
        cause=None,
    )
    services.cash_reserve(account=funded, amount=D("300.00"), order_ref="order-1")
    # On the trade day: settled 900 − reserved 300 = 600, though the cash is 1,000.
    with freeze_time(WEDNESDAY):
        before = ledger_row_count()
        response = alice_api.post("/api/v1/transfers", {"direction": "outgoing", "amount": "600.01"})
        assert alice_api.post("/api/v1/transfers", {"direction": "outgoing", "amount": "600.00"}).status_code == 201
    assert response.status_code == 422
    assert response.json()["message"].startswith("You can withdraw at most $600.00")
    assert ledger_row_count()[0] == before[0] + 1  # only the accepted 600.00


@pytest.mark.parametrize("flag", ["transfers_blocked", "account_blocked"])
def test_blocked_accounts_cannot_transfer(alice_api, funded, flag):
    setattr(funded, flag, True)
    funded.save(update_fields=[flag])
    before = (ledger_row_count(), Transfer.objects.count())
    response = alice_api.post("/api/v1/transfers", {"direction": "incoming", "amount": "5"})
    assert response.status_code == 403 and response.json()["code"] == "transfers_blocked"
    assert (ledger_row_count(), Transfer.objects.count()) == before


def test_anonymous_requests_are_refused(api_client, funded):
    assert api_client.post("/api/v1/transfers", {"direction": "incoming", "amount": "5"}).status_code == 401


@pytest.fixture
def alice_applicant(alice):
    """Alice has applied (her application waits in the compliance queue); nothing approved yet."""
    from accounts import services as accounts_services
    from accounts.tests.factories import KYCApplicationFactory
    from portfolios.services import account_open

    account = account_open(user=alice)
    KYCApplicationFactory(user=alice)
    accounts_services.kyc_submit(user=alice)
    return account


@pytest.mark.parametrize("decision", ["pending", "rejected"])
@pytest.mark.parametrize("direction", ["incoming", "outgoing"])
def test_no_money_moves_before_kyc_approval(
    alice_api, alice_applicant, carol, decision, direction, django_capture_on_commit_callbacks
):
    from accounts import services as accounts_services
    from accounts.models import KYCApplication

    if decision == "rejected":
        application = KYCApplication.objects.get(user=alice_applicant.user)
        accounts_services.kyc_reject(application=application, actor=carol, reason="Identity not confirmed.")
    before = (Transfer.objects.count(), ledger_row_count())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/api/v1/transfers", {"direction": direction, "amount": "50000.00"})
    assert response.status_code == 403
    assert response.json() == {
        "code": "transfers_blocked",
        "message": "Deposits and withdrawals are not possible on this account: KYC not approved.",
    }  # the common error format (`fields` only when a field is at fault)
    assert (Transfer.objects.count(), ledger_row_count()) == before
    assert not AuditEvent.objects.filter(action__startswith="transfer.").exists()
