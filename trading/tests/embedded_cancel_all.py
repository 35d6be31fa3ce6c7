"""Issue #16 item 4 in the mode it was seen in: the embedded default (SQLite, tasks run in process,
DEBUG on). `test_cancel_all_auction_and_legs` runs this file in a subprocess against a fresh SQLite
file (the test suite itself runs on PostgreSQL only) and reads the one JSON object it prints."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection
    from freezegun import freeze_time
    from rest_framework import throttling  # noqa: F401  before freeze_time, as the root conftest explains
    from rest_framework.test import APIClient

    from accounts.tests.factories import UserFactory, approved_customer
    from portfolios.models import LedgerAccount
    from portfolios.services import deposit_settled_post
    from portfolios.tests.factories import AssetFactory
    from trading.models import Order
    from trading.tests.conftest import quote

    call_command("migrate", verbosity=0)
    result = {}
    # Wednesday 19:30 New York: the market is closed and cls orders are for Thursday's close.
    with freeze_time(datetime(2026, 3, 5, 0, 30, tzinfo=UTC), tick=True):
        alice = UserFactory(email="alice@example.com")
        account = approved_customer(alice)
        deposit_settled_post(account=account, amount=Decimal("1000.00"))
        AssetFactory(symbol="F", reference_price=Decimal("10.00"))
        quote(symbol="F", bid="10.50", ask="10.52")
        api = APIClient(raise_request_exception=False)
        api.force_authenticate(alice)
        stop = {"symbol": "F", "side": "buy", "type": "stop", "qty": "1", "stop_price": "15", "time_in_force": "gtc"}
        limit = {"symbol": "F", "side": "buy", "type": "limit", "qty": "1", "limit_price": "9", "time_in_force": "gtc"}
        oto = {**limit, "order_class": "oto", "stop_loss": {"stop_price": "8"}}
        cls = {"symbol": "F", "side": "buy", "type": "market", "qty": "1", "time_in_force": "cls"}
        result["placed"] = [api.post("/api/v1/orders", body, format="json").status_code for body in (stop, oto, cls)]
        cash = LedgerAccount.objects.filter(account=account, kind="cash")
        result["reserved_before"] = str(cash.get().reserved)

        response = api.delete("/api/v1/orders")
        result["cancel_all"] = {"status": response.status_code, "content_type": response["Content-Type"]}
        result["statuses"] = sorted(Order.objects.values_list("status", flat=True))
        with connection.cursor() as cursor:  # the counter as stored, not rounded by Django on the way out
            cursor.execute("SELECT reserved FROM portfolios_ledgeraccount WHERE id = %s", [cash.get().pk])
            result["reserved_after"] = repr(cursor.fetchone()[0])
        result["verify_ledger"] = _verify(call_command, CommandError)

        # A counter that drifted off whole cents, as the arithmetic above used to leave it.
        api.post("/api/v1/orders", limit, format="json")
        with connection.cursor() as cursor:  # raw: Django would round the value to the column's cents
            cursor.execute(
                "UPDATE portfolios_ledgeraccount SET reserved = 8.999999999999998 WHERE id = %s", [cash.get().pk]
            )
        result["verify_ledger_after_drift"] = _verify(call_command, CommandError)
    print(json.dumps(result))  # the last line of stdout (the console email backend prints above it)


def _verify(call_command, CommandError) -> str:
    import io

    err = io.StringIO()
    try:
        call_command("verify_ledger", stdout=io.StringIO(), stderr=err)
    except CommandError as failed:
        return f"{failed} {err.getvalue().strip()}"
    return "Ledger OK."


if __name__ == "__main__":
    main()
