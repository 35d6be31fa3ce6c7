"""Seed the bench database (run by the runner as `python -m bench.seed OUT.json`, Django configured by env).

Creates, through the same services the product uses: 100 bench crypto assets `B000/USD`..`B099/USD`
(always open, so runs do not depend on the equity session), order-entry traders with cash and JWT
access tokens, and a "reads" trader with 50 positions (real market buys filled by the paper venue)
and 5,000 orders. It also records the exact SQL (statement + parameters) one order placement sends,
which the raw-psycopg ceiling replays.
"""

import enum
import json
import os
import pickle
import sys
import uuid
from datetime import timedelta
from decimal import Decimal

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.demo import trader_create  # noqa: E402
from accounts.models import User  # noqa: E402
from marketdata.models import Asset  # noqa: E402
from marketdata.quotes import Quote, store_quotes  # noqa: E402
from marketdata.services import assets_load  # noqa: E402
from portfolios.selectors import primary_account, valuation_inputs  # noqa: E402
from trading import services  # noqa: E402
from trading.models import Order, OrderEvent  # noqa: E402
from trading.risk import OrderRequest  # noqa: E402

PASSWORD = "bench-password-2026"


def cheap_password_hashing() -> None:
    """Bench users never log in with their password (the seed mints their tokens): skip the slow hash."""
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


BENCH_PRICE = Decimal("100.00")


def bench_symbols(count: int = 100) -> list[str]:
    return [f"B{i:03d}/USD" for i in range(count)]


def bench_quote(symbol: str, mid: Decimal = BENCH_PRICE) -> Quote:
    return Quote(
        symbol=symbol,
        bid=mid - Decimal("0.01"),
        ask=mid + Decimal("0.01"),
        bid_size=Decimal(1000),
        ask_size=Decimal(1000),
        last=mid,
        timestamp=timezone.now(),
    )


def assets_seed(symbols: list[str]) -> None:
    rows = [
        {
            "symbol": symbol,
            "name": f"Bench coin {symbol}",
            "asset_class": Asset.AssetClass.CRYPTO,
            "exchange": "CRYPTO",
            "min_order_size": Decimal("0.0001"),
            "min_trade_increment": Decimal("0.0001"),
            "price_increment": Decimal("0.01"),
            "reference_price": BENCH_PRICE,
        }
        for symbol in symbols
    ]
    with transaction.atomic():
        assets_load(rows=rows)
    store_quotes([bench_quote(symbol) for symbol in symbols])


def login(user: User) -> tuple[str, str]:
    """(JWT access token, session cookie) as a login returns them, without paying the password hash per user."""
    from allauth.headless.tokens.strategies.jwt import internal

    client = Client()
    client.force_login(user)
    return internal.create_access_token(user, client.session, {}), client.cookies["sessionid"].value


def trader(email: str, cash: str) -> tuple[User, str, str]:
    user = trader_create(email=email, password=PASSWORD, cash=Decimal(cash), kyc="approved")
    return user, *login(user)


def resting_buy(symbol: str, **extra) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side="buy",
        type="limit",
        time_in_force="gtc",
        qty=Decimal(1),
        limit_price=Decimal("1.00"),
        **extra,
    )


def statements_captured(action, names: dict[str, str]) -> list[tuple[str, tuple | dict]]:
    """The statements `action()` sends inside one transaction, with their parameters, in order; the values in
    `names` (ids that differ per order or per trader) left as placeholders for a replay to fill in."""
    captured: list[tuple[str, tuple | dict]] = []
    capturing = True

    def wrapper(execute, sql, params, many, context):
        if capturing and "SAVEPOINT" not in sql:
            captured.append((sql, dict(params) if isinstance(params, dict) else tuple(params or ())))
        return execute(sql, params, many, context)

    def stop():
        nonlocal capturing
        capturing = False

    with connection.execute_wrapper(wrapper), transaction.atomic():
        transaction.on_commit(stop)  # registered first: runs before the submit task and sees nothing after commit
        names |= action()

    def named(param):
        """Plain values only (TextChoices members are enums: the replay runs without Django); a whole id becomes
        its placeholder, ids inside a text (the order writer's JSON rows) too."""
        param = param.value if isinstance(param, enum.Enum) else param
        if str(param) in names or not isinstance(param, str):
            return names.get(str(param), param)
        for value, name in names.items():
            param = param.replace(value, name)
        return param

    return [
        (sql, {key: named(p) for key, p in params.items()} if isinstance(params, dict) else tuple(map(named, params)))
        for sql, params in captured
    ]


def order_sql_capture(account, symbol: str) -> tuple[list[tuple[str, tuple | dict]], Order]:
    """One order placement's statements (the order entry ceilings replay them)."""
    placed = []

    def place() -> dict[str, str]:
        order, _ = services.order_place(
            account=account, request=resting_buy(symbol, client_order_id=f"capture-{uuid.uuid4().hex[:8]}")
        )
        placed.append(order)
        return {str(order.id): "$order_id", order.client_order_id: "$client_order_id"}

    ids = {str(account.pk): "$account_id", str(account.user_id): "$user_id"}
    return statements_captured(place, ids), placed[0]


def account_sql_capture(account) -> list[tuple[str, tuple | dict]]:
    """`GET /api/v1/account`'s reads (the bare ceiling replays them)."""

    def read() -> dict[str, str]:
        valuation_inputs(account=account, account_read=True)
        return {}

    return statements_captured(read, {str(account.pk): "$account_id"})


def reads_seed(symbols: list[str], orders_total: int, positions: int) -> tuple[str, str]:
    """A trader with `positions` positions (market buys filled by the paper venue) and `orders_total` orders."""
    user, token, session = trader("reads@bench.local", "40000.00")
    account = primary_account(user=user)
    for symbol in symbols[:positions]:
        services.order_place(
            account=account,
            request=OrderRequest(symbol=symbol, side="buy", type="market", time_in_force="gtc", qty=Decimal(1)),
        )
    open_orders = [
        services.order_place(account=account, request=resting_buy(symbols[i % len(symbols)]))[0]
        for i in range(min(50, orders_total))
    ]
    template = open_orders[0]
    now = timezone.now()
    history = []
    for i in range(orders_total - Order.objects.filter(account=account).count()):
        at = now - timedelta(minutes=i + 1)
        history.append(
            Order(
                client_order_id=f"hist-{i}",
                account=account,
                asset=template.asset,
                symbol=template.symbol,
                asset_class=template.asset_class,
                side="buy",
                type="limit",
                time_in_force="gtc",
                qty=Decimal(1),
                limit_price=Decimal("1.00"),
                broker="paper",
                status="canceled",
                created_at=at,
                updated_at=at - timedelta(days=7),  # old enough that the paper venue's sync never reads them
                canceled_at=at,
            )
        )
    Order.objects.bulk_create(history, batch_size=1000)
    OrderEvent.objects.bulk_create(
        [OrderEvent(order=o, event="new", to_status="new", created_at=o.created_at) for o in history], batch_size=1000
    )
    return token, session


def main(out_path: str) -> None:
    sizes = json.loads(os.environ.get("BENCH_SEED", "{}"))
    cheap_password_hashing()
    # The feed ticks every active crypto asset: `feed_symbols` of them (issue: feed RSS at 1,000 symbols);
    # orders and WebSocket subscriptions use the first 100.
    assets_seed(bench_symbols(sizes.get("feed_symbols", 1000)))
    symbols = bench_symbols(100)
    traders = []
    for i in range(sizes.get("traders", 32)):
        user, token, _ = trader(f"trader{i:03d}@bench.local", "40000.00")
        traders.append(
            {
                "email": user.email,
                "user_id": str(user.pk),
                "token": token,
                "account_id": str(primary_account(user=user).pk),
            }
        )
    capture_account = primary_account(user=User.objects.get(email=traders[0]["email"]))
    statements, captured_order = order_sql_capture(capture_account, symbols[0])
    sql_path = out_path + ".order_sql.pickle"
    with open(sql_path, "wb") as handle:
        pickle.dump(statements, handle)
    account_sql_path = out_path + ".account_sql.pickle"
    with open(account_sql_path, "wb") as handle:
        pickle.dump(account_sql_capture(capture_account), handle)
    reads_token, reads_session = reads_seed(symbols, sizes.get("reads_orders", 5000), sizes.get("reads_positions", 50))
    # Planner statistics for the rows just bulk-loaded, as a live database has them: without, the first minute
    # (until autovacuum analyzes) lists orders by sorting all 5,000 instead of reading 500 off (account, created_at).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    result = {
        "symbols": symbols,
        "traders": traders,
        "reads_token": reads_token,
        "reads_session": reads_session,
        "order_sql": sql_path,
        "order_sql_statements": len(statements),
        "account_sql": account_sql_path,
        "capture_order_asset_id": str(captured_order.asset_id),
        "celery_eager": settings.CELERY_TASK_ALWAYS_EAGER,
    }
    with open(out_path, "w") as handle:
        json.dump(result, handle)


def tokens_refresh(path: str) -> None:
    """Access tokens live 30 minutes: a reused seed (`--reuse-seed`) gets fresh ones."""
    with open(path) as handle:
        seed = json.load(handle)
    for trader_row in seed["traders"]:
        trader_row["token"] = login(User.objects.get(email=trader_row["email"]))[0]
    seed["reads_token"], seed["reads_session"] = login(User.objects.get(email="reads@bench.local"))
    with open(path, "w") as handle:
        json.dump(seed, handle)


if __name__ == "__main__":
    if sys.argv[2:] == ["--refresh-tokens"]:
        tokens_refresh(sys.argv[1])
    else:
        main(sys.argv[1])
