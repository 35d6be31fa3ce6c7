"""The lean request path (speedtrade/lean_api.py) answers the hot routes byte for byte as DRF does, and its
cached authentication ends the moment a credential is revoked — in every process.

Each comparison sends the same request to Django's ASGI handler and to the lean app in front of it, against
the same database state (a new order is placed by each inside a savepoint rolled back afterwards), with the
API keys' and the user throttle's counters reset before each so both start from the same budget.
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from allauth.headless.tokens.strategies.jwt import internal as allauth_jwt
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import AccountRestriction, ApiKey, AuditEvent
from accounts.services import account_restriction_set, api_key_create, api_key_revoke
from accounts.tests.factories import UserFactory, approved_customer
from marketdata.selectors import asset_by_symbol_cached
from portfolios.models import Account
from portfolios.services import deposit_settled_post
from portfolios.tests.factories import AssetFactory
from speedtrade import auth_cache
from speedtrade.lean_api import simple_order_request
from speedtrade.tests.lean_asgi import Answer, Apps
from speedtrade.tests.test_app_tokens import app_login
from trading.models import Order

pytestmark = pytest.mark.django_db

LIMIT_BUY = {"symbol": "ACME", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "2", "limit_price": "9"}
# Values a new order gets from the moment and the random generator: each path's own, so swapped before comparing.
PER_PLACEMENT = ("id", "client_order_id", "created_at", "updated_at", "submitted_at", "expires_at")
BROWSER = "Mozilla/5.0 (bot)"


@pytest.fixture
def apps(settings):
    """Both apps on the test's connection, where each comparison rolls back to a savepoint: orders in the request's
    thread (the loop's own connection could not see the test's transaction; `lockstep` below compares that way)."""
    settings.LEAN_API_ASYNC_ORDERS = False
    assert auth_cache.revocations_listen(wait=10)
    auth_cache.auth_cache.clear()
    return Apps()


@pytest.fixture
def alice_account(alice):
    account = approved_customer(alice)
    deposit_settled_post(account=account, amount=Decimal("1000.00"))
    return account


@pytest.fixture
def acme(db):
    return AssetFactory(symbol="ACME", reference_price=Decimal("10.00"))


@pytest.fixture
def alice_token(api_client, alice_account):
    return app_login(api_client, alice_account.user)["access_token"]


@pytest.fixture
def alice_key(alice_account):
    key, secret = api_key_create(user=alice_account.user, label="bot")
    return key, secret


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}"), ("User-Agent", BROWSER)]


def key_headers(key: ApiKey, secret: str) -> list[tuple[str, str]]:
    return [("APCA-API-KEY-ID", key.key_id), ("APCA-API-SECRET-KEY", secret)]


def counters_reset() -> None:
    """Both paths start from the same API-key window and user-throttle history."""
    client = cache._cache.get_client(None, write=True)
    for pattern in ("*api-key-rate:*", "*api-user-rate:*", "*throttle_user_*"):
        for name in client.scan_iter(pattern):
            client.delete(name)


def warm(apps: Apps, headers) -> None:
    """One request through Django: the full check that lets this process remember the credential."""
    assert apps.request(apps.django, "GET", "/api/v1/clock", headers=headers).status == 200


def both(apps: Apps, method: str, path: str, **request) -> tuple[Answer, Answer]:
    """The lean answer and Django's to the same request on the same database state."""
    savepoint = transaction.savepoint()
    counters_reset()
    lean = apps.request(apps.lean, method, path, **request)
    transaction.savepoint_rollback(savepoint)
    savepoint = transaction.savepoint()
    counters_reset()
    django = apps.request(apps.django, method, path, **request)
    transaction.savepoint_rollback(savepoint)
    return lean, django


def assert_same(lean: Answer, django: Answer) -> None:
    lean_body = lean.body
    if lean.status == 201 and django.status == 201:  # a new order each: its id and moments are its own
        mine, theirs = json.loads(lean.body), json.loads(django.body)
        for name in PER_PLACEMENT:
            if mine[name] is not None:
                lean_body = lean_body.replace(f'"{mine[name]}"'.encode(), f'"{theirs[name]}"'.encode())
    assert (lean.status, lean_body) == (django.status, django.body)
    assert lean.compared_headers() == django.compared_headers()
    assert lean.header("X-Process-Time").endswith("ms")


# --- the routes, answered by the lean path and identical to DRF ------------------------------------------------


def _request_metrics() -> dict[tuple, float]:
    """django-prometheus's request counts (latency and sizes: how many observed), by labels."""
    from prometheus_client import REGISTRY

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in REGISTRY.collect()
        if family.name.startswith("django_http_requests") or family.name.startswith("django_http_responses")
        for sample in family.samples
        if sample.name.endswith(("_total", "_count"))
    }


def _metrics_added(request) -> dict[tuple, float]:
    before = _request_metrics()
    request()
    return {key: value - before.get(key, 0) for key, value in _request_metrics().items() if value != before.get(key)}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/account"), ("GET", "/v2/orders"), ("POST", "/v2/orders")]
)
def test_the_lean_path_counts_a_request_in_the_metrics_as_django_does(apps, alice_token, acme, method, path):
    warm(apps, bearer(alice_token))
    headers = [*bearer(alice_token), ("Content-Type", "application/json")] if method == "POST" else bearer(alice_token)
    body = b'{"symbol": "ACME", "side": "sell", "type": "market", "time_in_force": "day", "qty": "1"}'
    request = {"headers": headers, "body": body if method == "POST" else b""}
    for _ in range(2):  # the second time with the labelled metrics the first one made
        answers = []
        counters_reset()
        lean = _metrics_added(lambda: answers.append(apps.request(apps.lean, method, path, **request)))  # noqa: B023
        counters_reset()
        django = _metrics_added(lambda: answers.append(apps.request(apps.django, method, path, **request)))  # noqa: B023
        assert answers[0].by_lean and answers[0].status == answers[1].status
        assert lean == django


@pytest.mark.parametrize("prefix", ["/api/v1", "/v2"])
@pytest.mark.parametrize("path", ["/account", "/positions", "/orders"])
def test_reads_with_an_access_token_are_answered_by_the_lean_path_as_drf_does(apps, alice_token, acme, prefix, path):
    warm(apps, bearer(alice_token))
    lean, django = both(apps, "GET", prefix + path, headers=bearer(alice_token))
    assert lean.by_lean and lean.status == 200
    assert_same(lean, django)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v2"])
def test_the_account_shows_changes_made_after_the_credential_was_remembered(apps, alice_token, alice_account, prefix):
    warm(apps, bearer(alice_token))
    assert apps.request(apps.lean, "GET", prefix + "/account", headers=bearer(alice_token)).by_lean
    # No revocation: a change that does not alter who may trade, which the principal's snapshot never hears of.
    Account.objects.filter(pk=alice_account.pk).update(transfers_blocked=True)
    lean, django = both(apps, "GET", prefix + "/account", headers=bearer(alice_token))
    assert lean.by_lean and lean.json()["transfers_blocked"] is True
    assert_same(lean, django)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v2"])
def test_an_order_placed_with_an_api_key_is_answered_as_drf_does(apps, alice_key, acme, prefix):
    headers = [*key_headers(*alice_key), ("Content-Type", "application/json")]
    warm(apps, key_headers(*alice_key))
    lean, django = both(apps, "POST", prefix + "/orders", headers=headers, body=json.dumps(LIMIT_BUY).encode())
    assert lean.by_lean and lean.status == 201 and lean.header("X-RateLimit-Limit")
    assert_same(lean, django)


def test_the_same_client_order_id_returns_the_existing_order_on_both_paths(apps, alice_token, acme):
    headers = [*bearer(alice_token), ("Content-Type", "application/json")]
    body = json.dumps({**LIMIT_BUY, "client_order_id": "mine-1"}).encode()
    assert apps.request(apps.django, "POST", "/api/v1/orders", headers=headers, body=body).status == 201
    lean, django = both(apps, "POST", "/api/v1/orders", headers=headers, body=body)
    assert lean.by_lean and lean.status == 200
    assert_same(lean, django)
    assert Order.objects.filter(client_order_id="mine-1").count() == 1


# --- the differential property: any input, any credential, the same answer ----------------------------------


def mostly(valid: list, others: list, weight: int = 12) -> st.SearchStrategy:
    """Valid values far likelier than the others (and shrinking towards the first valid one)."""
    return st.sampled_from(valid * weight + others)


bad_numbers = ["0", "-1", "1e2", " 3", "03", "1.0000000001", "NaN", "", 2, 0.5, None]


ORDER_OPTIONS = {
    "notional": st.sampled_from(["5", "5.5", "5.555", "0.5", "-5"]),
    "stop_price": mostly(["9.5"], bad_numbers),
    "extended_hours": st.sampled_from([True, False, "true", 1, None]),
    "client_order_id": mostly(["c-1", "c-2"], [" c-1", "", "x" * 129, "é", 7]),
    "order_class": st.sampled_from(["simple", "bracket"]),
    "legs": st.just([]),
}


def order_bodies(
    symbol: str, times_in_force: list[str], options=tuple(ORDER_OPTIONS), weight: int = 12
) -> st.SearchStrategy:
    others = [symbol.lower(), "NOPE", "", f" {symbol}", "AC ME", "A" * 33, 5]
    return st.fixed_dictionaries(
        {
            "symbol": mostly([symbol], others, weight),
            "side": mostly(["buy"], ["sell", "BUY", "hold"], weight),
            "type": mostly(["limit"], ["market", "stop", "stop_limit", "trailing_stop", "LIMIT"], weight),
            "time_in_force": mostly(times_in_force, ["day", "gtc", "ioc", "fok", "opg", "cls", "week"], weight),
            "qty": mostly(["2", "0.5", "1.000000001"], bad_numbers, weight),
            "limit_price": mostly(["9", "9.50"], [*bad_numbers, "9.123"], weight),
        },
        optional={name: ORDER_OPTIONS[name] for name in options},
    )


credentials = mostly(["token", "key"], ["read_only_key", "none", "bad_token", "expired_token", "bad_secret"])
paths = st.sampled_from(["/api/v1/orders", "/v2/orders"])


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=order_bodies("ACME", ["day", "gtc"]),
    credential=credentials,
    path=paths,
    raw=st.sampled_from([False] * 9 + [True]),
)
def test_any_order_body_and_credential_get_the_same_answer_from_both_paths(
    apps, alice_account, acme, alice_credentials, body, credential, path, raw
):
    content = b'{"symbol": "ACME",' if raw else json.dumps(body).encode()
    headers = [*alice_credentials[credential], ("Content-Type", "application/json")]
    lean, django = both(apps, "POST", path, headers=headers, body=content)
    event(f"{lean.status} {'lean' if lean.by_lean else 'Django'}")
    assert_same(lean, django)
    if credential in ("token", "key") and simple_order_request(content) is not None:
        assert lean.by_lean  # a simple order from a known credential is the lean path's to answer


# --- order entry on the event loop (no thread): alice on the lean path, bob (her twin) on DRF ---------------------
#
# The loop writes through its own database connection, which cannot see a test's transaction: these tests commit
# (transactional), and instead of rolling each answer back they keep two customers alike in lockstep — the same
# deposit, the same requests, one through each path — so every answer must match and every later state with it.


@pytest.fixture
def coin(transactional_db):
    return AssetFactory(crypto=True, symbol="COIN/USD", reference_price=Decimal("10.00"))


@pytest.fixture
def loop_spy(monkeypatch):
    """Counts the orders the loop took on (`order_place_async`, still doing its work)."""
    from trading import services

    calls = []
    place = services.order_place_async

    async def spied(*args, **kwargs):
        calls.append(args[0].request)
        return await place(*args, **kwargs)

    monkeypatch.setattr(services, "order_place_async", spied)
    return calls


@dataclass
class Lockstep:
    apps: Apps
    alice: dict  # credentials, by kind (`credentials_for`)
    bob: dict
    swaps: dict = field(default_factory=dict)  # alice's per-placement values → bob's (ids, times)

    def both(self, path: str, credential: str, body: bytes) -> tuple[Answer, Answer]:
        content_type = [("Content-Type", "application/json")]
        counters_reset()
        lean = self.apps.request(
            self.apps.lean, "POST", path, headers=[*self.alice[credential], *content_type], body=body
        )
        counters_reset()
        django = self.apps.request(
            self.apps.django, "POST", path, headers=[*self.bob[credential], *content_type], body=body
        )
        if lean.status in (200, 201) and django.status == lean.status:
            mine, theirs = lean.json(), django.json()
            self.swaps.update({mine[name]: theirs[name] for name in PER_PLACEMENT if mine[name] is not None})
        return lean, django

    def assert_same(self, lean: Answer, django: Answer) -> None:
        body = lean.body
        for alices, bobs in self.swaps.items():
            body = body.replace(alices.encode(), bobs.encode())
        assert (lean.status, body) == (django.status, django.body)
        assert lean.compared_headers() == django.compared_headers()


@pytest.fixture
def lockstep(settings, apps, api_client, alice, bob, coin):
    settings.LEAN_API_ASYNC_ORDERS = True
    settings.ASSET_CACHE_SECONDS = 3600  # the asset stays in this process's cache for the whole test
    settings.AUTH_CACHE_SECONDS = 3600  # and so do the credentials (hypothesis's shrinking outlasts a minute)
    asset_by_symbol_cached(coin.symbol)  # as an order of it within ASSET_CACHE_SECONDS leaves it (else: the thread)
    accounts = {}
    for user in (alice, bob):
        accounts[user] = approved_customer(user)
        deposit_settled_post(account=accounts[user], amount=Decimal("1000.00"))
    pair = Lockstep(apps, credentials_for(apps, api_client, alice), credentials_for(apps, api_client, bob))
    # A first lean request remembers alice's account with her token (the loop places orders from then on).
    assert apps.request(apps.lean, "GET", "/api/v1/account", headers=pair.alice["token"]).by_lean
    return pair


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("path", ["/api/v1/orders", "/v2/orders"])
def test_a_crypto_buy_is_placed_on_the_event_loop_as_drf_places_it(lockstep, loop_spy, path):
    order = {"symbol": "COIN/USD", "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "2"}
    lean, django = lockstep.both(path, "token", json.dumps({**order, "limit_price": "9"}).encode())
    assert lean.by_lean and lean.status == 201 and len(loop_spy) == 1
    lockstep.assert_same(lean, django)
    alices, bobs = (Order.objects.get(pk=answer.json()["id"]) for answer in (lean, django))
    stored = ("status", "reserved_cash", "qty", "limit_price", "expires_at", "broker")
    assert [getattr(alices, name) for name in stored] == [getattr(bobs, name) for name in stored]
    assert alices.reserved_cash == Decimal("18.00") and alices.events.order_by("id").first().event == "new"
    assert AuditEvent.objects.filter(action="trading.order_placed", target_id=str(alices.pk)).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("engine_inline", [False, True])
def test_an_order_placed_on_the_event_loop_reaches_the_users_sockets_and_wakes_the_engine(
    settings, lockstep, loop_spy, alice, engine_inline
):
    """The `new` trade update and the engine's wake go out together after the writer's commit (one Redis round
    trip: the group send as a script beside the PUBLISH): the user's socket gets the update as DRF's order sends
    it, the engine hears the wake (or, with no engine, the order is submitted in process after the update)."""
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from speedtrade.realtime import user_group
    from trading.queueing import ENGINE_WAKE_CHANNEL

    settings.TRADING_ENGINE_INLINE = engine_inline
    layer = get_channel_layer()
    socket = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(alice.id), socket)
    wakes = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    wakes.subscribe(ENGINE_WAKE_CHANNEL)
    assert wakes.get_message(timeout=5)["type"] == "subscribe"
    order = {"symbol": "COIN/USD", "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "2"}
    lean, django = lockstep.both("/api/v1/orders", "token", json.dumps({**order, "limit_price": "9"}).encode())
    assert lean.by_lean and lean.status == 201 and len(loop_spy) == 1

    update = async_to_sync(layer.receive)(socket)
    assert (update["type"], update["stream"], update["data"]["event"]) == ("user.event", "trade_updates", "new")
    assert update["data"]["order"]["id"] == lean.json()["id"]
    woken = wakes.get_message(timeout=5)
    wakes.close()
    assert (woken is not None and woken["type"] == "message") is not engine_inline


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refusals_from_the_event_loop_read_as_drfs(lockstep, loop_spy):
    """Buying power (seen locked by the writer), a used client_order_id (the existing order back, 200; another
    order under it, 422) and a refusal before the writer come out of the loop's attempt as DRF words them."""
    buy = {"symbol": "COIN/USD", "side": "buy", "type": "limit", "time_in_force": "gtc", "limit_price": "9"}
    requests = [
        {**buy, "qty": "200"},  # $1,800 of $1,000: insufficient_buying_power, from the writer
        {**buy, "qty": "2", "client_order_id": "mine-1"},  # placed
        {**buy, "qty": "2", "client_order_id": "mine-1"},  # the same order again: 200, the existing order
        {**buy, "qty": "3", "client_order_id": "mine-1"},  # another order under it: 422 client_order_id_reused
        {**buy, "qty": "2", "time_in_force": "day"},  # crypto takes gtc or ioc: refused before the writer
        {**buy, "qty": "2", "time_in_force": "day", "client_order_id": "mine-2"},  # the same, a retry's id
    ]
    codes = []
    for body in requests:
        lean, django = lockstep.both("/api/v1/orders", "token", json.dumps(body).encode())
        lockstep.assert_same(lean, django)
        codes.append((lean.status, lean.json().get("code")))
    assert codes == [
        (422, "insufficient_buying_power"),
        (201, None),
        (200, None),
        (422, "client_order_id_reused"),
        (422, "time_in_force_not_supported"),
        (422, "time_in_force_not_supported"),
    ]
    assert len(loop_spy) == len(requests)  # the loop took each on, handing on only what order_place decides
    assert Order.objects.filter(client_order_id="mine-1").count() == 2  # alice's and bob's, once each


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Fewer bad values, and none of the options the lean path leaves to DRF's parser (legs, order_class): most
    # bodies reach the loop.
    body=order_bodies("COIN/USD", ["gtc", "ioc"], options=("extended_hours", "client_order_id"), weight=60),
    credential=credentials,
    path=paths,
)
def test_any_crypto_order_gets_the_same_answer_from_the_event_loop_and_drf(lockstep, loop_spy, body, credential, path):
    content = json.dumps(body).encode()
    taken_on = len(loop_spy)
    # Whether the token's principal holds alice's account (a revocation of her setup's commits may still arrive over
    # Redis and make the next request check her token in full again).
    token_principal = auth_cache.auth_cache.access_token_principal(
        lockstep.alice["token"][0][1].removeprefix("Bearer "), client=("127.0.0.1", BROWSER)
    )
    account_known = token_principal is not None and token_principal.account is not None
    lean, django = lockstep.both(path, credential, content)
    on_loop = len(loop_spy) > taken_on
    event(f"{lean.status} {'loop' if on_loop else 'lean' if lean.by_lean else 'Django'}")
    lockstep.assert_same(lean, django)
    request = simple_order_request(content)
    if credential == "token" and account_known and request is not None and request.side == "buy":
        assert on_loop or request.symbol != "COIN/USD"  # a simple crypto buy is the loop's to take on


query_values = st.sampled_from(["open", "closed", "all", "bogus", "1", "0", "501", "asc", "desc", "true", "ACME"])
order_queries = st.dictionaries(
    st.sampled_from(["status", "limit", "direction", "nested", "symbols", "side", "after", "format", "page"]),
    query_values,
    max_size=3,
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=order_queries, credential=credentials, path=st.sampled_from(["/api/v1/orders", "/v2/orders"]))
def test_any_order_list_query_gets_the_same_answer_from_both_paths(
    apps, alice_account, acme, alice_credentials, query, credential, path
):
    query_string = "&".join(f"{name}={value}" for name, value in query.items())
    lean, django = both(apps, "GET", path, headers=alice_credentials[credential], query=query_string)
    event(f"{lean.status} {'lean' if lean.by_lean else 'Django'}")
    assert_same(lean, django)


@pytest.fixture
def alice_credentials(apps, api_client, alice_account):
    return credentials_for(apps, api_client, alice_account.user)


def credentials_for(apps: Apps, api_client, user) -> dict:
    """Every kind of credential a client may send, the valid ones already checked once by Django."""
    token = app_login(api_client, user)["access_token"]
    key, secret = api_key_create(user=user, label="trading")
    read_only, read_only_secret = api_key_create(user=user, label="ro", scope=ApiKey.Scope.READ_ONLY)
    expired = _expired_token(user, token)
    variants = {
        "token": bearer(token),
        "key": key_headers(key, secret),
        "read_only_key": key_headers(read_only, read_only_secret),
        "none": [],
        "bad_token": bearer(token[:-4] + "AAAA"),
        "expired_token": bearer(expired),
        "bad_secret": key_headers(key, secret + "x"),
    }
    for name in ("token", "key", "read_only_key"):
        warm(apps, variants[name])
    return variants


def _expired_token(user, token: str) -> str:
    """A token for the same session, signed as allauth signs, that expired a minute ago."""
    import jwt as pyjwt

    payload = pyjwt.decode(token, options={"verify_signature": False})
    payload["exp"] = int(time.time()) - 60
    return pyjwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")


# --- refusals: shapes and other users' data -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/account", "/v2/account", "/api/v1/orders", "/v2/orders"])
def test_refusals_have_drfs_shapes(apps, alice_credentials, path):
    for credential in ("none", "bad_token", "expired_token", "bad_secret"):
        lean, django = both(apps, "GET", path, headers=alice_credentials[credential])
        assert lean.status == 401 and not lean.by_lean
        assert_same(lean, django)
    lean, django = both(apps, "POST", path, headers=alice_credentials["read_only_key"], body=b"{}")
    assert lean.status in (403, 405)
    assert_same(lean, django)


def test_a_user_without_an_account_gets_drfs_404(apps, api_client):
    nobody = UserFactory(email="nobody@example.com")
    token = app_login(api_client, nobody)["access_token"]
    warm(apps, bearer(token))
    lean, django = both(apps, "GET", "/api/v1/account", headers=bearer(token))
    assert lean.status == 404 and lean.json()["code"] == "not_found"
    assert_same(lean, django)


def test_other_customers_orders_are_never_listed_and_their_client_order_ids_are_not_shared(
    apps, alice_token, alice_account, acme, bob
):
    bob_account = approved_customer(bob)
    deposit_settled_post(account=bob_account, amount=Decimal("1000.00"))
    bob_token = app_login(APIClient(), bob)["access_token"]
    bob_headers = [*bearer(bob_token), ("Content-Type", "application/json")]
    body = json.dumps({**LIMIT_BUY, "client_order_id": "shared-1"}).encode()
    assert apps.request(apps.django, "POST", "/api/v1/orders", headers=bob_headers, body=body).status == 201

    warm(apps, bearer(alice_token))
    listed = apps.request(apps.lean, "GET", "/api/v1/orders", headers=bearer(alice_token), query="status=all")
    assert listed.by_lean and listed.json() == []
    headers = [*bearer(alice_token), ("Content-Type", "application/json")]
    placed = apps.request(apps.lean, "POST", "/api/v1/orders", headers=headers, body=body)
    assert placed.by_lean and placed.status == 201  # alice's own order, not bob's found again
    assert Order.objects.filter(client_order_id="shared-1").values_list("account", flat=True).distinct().count() == 2


def test_browsable_api_and_unknown_parameters_stay_with_drf(apps, alice_token, acme):
    warm(apps, bearer(alice_token))
    page = apps.request(apps.lean, "GET", "/api/v1/account", headers=[*bearer(alice_token), ("Accept", "text/html")])
    assert not page.by_lean and page.status == 200 and page.header("Content-Type").startswith("text/html")
    formatted = apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(alice_token), query="format=json")
    assert not formatted.by_lean and formatted.status == 200


# --- revocation: at once, in every process --------------------------------------------------------------------


@pytest.fixture
def other_process():
    """A second process's cache, hearing revocations only through Redis."""
    cache_of_other = auth_cache.AuthCache()
    listener = auth_cache.RevocationListener(cache_of_other, settings.REDIS_URL)
    listener.ensure_running()
    assert listener.subscribed.wait(10)
    yield cache_of_other
    listener.stop()


def until(condition, timeout: float = 10.0) -> bool:
    """Waits for another thread's doing (the listener applying a message), up to `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_revoked_key_is_refused_at_once_here_and_in_another_process(
    apps, alice_key, acme, other_process, django_capture_on_commit_callbacks
):
    key, secret = alice_key
    warm(apps, key_headers(key, secret))
    other_process.api_key_remember(key=key, secret=secret, validated_at=time.monotonic())
    assert apps.request(apps.lean, "GET", "/api/v1/account", headers=key_headers(key, secret)).by_lean

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(user=key.user, key_id=key.key_id)

    refused = apps.request(apps.lean, "GET", "/api/v1/account", headers=key_headers(key, secret))
    assert (refused.status, refused.by_lean) == (401, False)
    assert until(lambda: other_process.api_key_principal(key.key_id, secret) is None)


def test_logging_out_refuses_the_token_at_once_here_and_in_another_process(
    apps, api_client, alice_account, other_process, django_capture_on_commit_callbacks
):
    meta = app_login(api_client, alice_account.user)
    token = meta["access_token"]
    warm(apps, bearer(token))
    payload = allauth_jwt.decode_token(token, "access")
    other_process.access_token_remember(
        payload=payload,
        session_key=allauth_jwt.session_key_from_sid(payload["sid"]),
        user_id=alice_account.user_id,
        client=("127.0.0.1", BROWSER),
        validated_at=time.monotonic(),
    )
    assert apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(token)).by_lean

    with django_capture_on_commit_callbacks(execute=True):
        logout = api_client.delete("/_allauth/app/v1/auth/session", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert logout.status_code == 401  # allauth's answer to a logout: no longer authenticated

    refused = apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(token))
    assert (refused.status, refused.by_lean) == (401, False)
    assert until(lambda: other_process.access_token_principal(token, client=("127.0.0.1", BROWSER)) is None)


def test_a_trading_restriction_refuses_the_next_order_at_once(
    apps, alice_token, alice_account, acme, carol, django_capture_on_commit_callbacks
):
    headers = [*bearer(alice_token), ("Content-Type", "application/json")]
    warm(apps, bearer(alice_token))
    # The lean path now holds the account as it read it (unrestricted): the restriction must end that view.
    assert apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(alice_token)).by_lean
    with django_capture_on_commit_callbacks(execute=True):
        account_restriction_set(
            account=alice_account,
            kind=AccountRestriction.Kind.TRADING,
            blocked=True,
            actor=carol,
            reason="Review.",
            customer_message=AccountRestriction.CustomerMessage.values[0],
        )
    refused = apps.request(apps.lean, "POST", "/api/v1/orders", headers=headers, body=json.dumps(LIMIT_BUY).encode())
    assert refused.status in (403, 422) and refused.json()["code"] == "account_not_tradable"
    assert not Order.objects.filter(account=alice_account).exists()


def test_the_user_throttle_refuses_on_both_paths_alike(apps, alice_token, acme, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    from speedtrade.api.throttling import FixedWindowThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "1/min"})
    monkeypatch.setattr(FixedWindowThrottle, "timer", lambda self: 1_800_000_020.0)  # both requests in one window
    second_requests = []
    for app in (apps.lean, apps.django):
        counters_reset()
        assert apps.request(apps.django, "GET", "/api/v1/clock", headers=bearer(alice_token)).status == 200
        second_requests.append(apps.request(app, "GET", "/api/v1/orders", headers=bearer(alice_token)))
    lean, django = second_requests  # each after one request that used the minute's budget
    assert lean.by_lean and lean.status == 429 and lean.header("Retry-After")
    assert_same(lean, django)


def test_a_credential_checked_again_in_full_keeps_its_account_no_longer_than_the_first_check_would(settings):
    """A client that also calls routes Django answers has its credential put again after each: the account the lean
    path read stays with it (no new read on the next order), but only until the first check's entry would expire."""
    settings.AUTH_CACHE_SECONDS = 60
    cache_here = auth_cache.AuthCache()
    user_id = uuid.uuid4()
    first = auth_cache.Principal(user_id=user_id)
    cache_here.put("jwt:s1", "check", first, validated_at=1000.0)
    first.account = "alice's account as read"
    again = auth_cache.Principal(user_id=user_id)
    cache_here.put("jwt:s1", "check", again, validated_at=1030.0)
    assert (again.account, again.expires_at) == ("alice's account as read", 1060.0)
    fresh = auth_cache.Principal(user_id=user_id)
    cache_here.put("jwt:s2", "check", fresh, validated_at=1030.0)  # another credential: nothing to keep
    assert (fresh.account, fresh.expires_at) == (None, 1090.0)


def test_ending_a_session_from_another_device_refuses_its_token_at_once(
    apps, alice_token, alice_account, django_capture_on_commit_callbacks
):
    from allauth.usersessions.adapter import get_adapter
    from allauth.usersessions.models import UserSession

    warm(apps, bearer(alice_token))
    assert apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(alice_token)).by_lean

    with django_capture_on_commit_callbacks(execute=True):
        get_adapter().end_sessions(list(UserSession.objects.filter(user=alice_account.user)))

    refused = apps.request(apps.lean, "GET", "/api/v1/account", headers=bearer(alice_token))
    assert (refused.status, refused.by_lean) == (401, False)


def test_an_exhausted_connection_pool_while_finding_the_account_is_drfs_503(apps, alice_token, acme, monkeypatch):
    """Overload on the lean path's first query is the 503 `overloaded` DRF gives, not a server error (the bench's
    500s at 500 orders/s)."""
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    def pool_exhausted(**kwargs):
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as timeout:
            raise OperationalError(str(timeout)) from timeout  # what Django's error wrapper raises

    warm(apps, bearer(alice_token))
    monkeypatch.setattr("speedtrade.lean_api.primary_account", pool_exhausted)
    headers = [*bearer(alice_token), ("Content-Type", "application/json")]
    lean = apps.request(apps.lean, "POST", "/api/v1/orders", headers=headers, body=json.dumps(LIMIT_BUY).encode())
    assert (lean.by_lean, lean.status, lean.header("Retry-After")) == (True, 503, "1")
    assert json.loads(lean.body)["code"] == "overloaded"
    assert not Order.objects.exists()
