"""Plaid webhooks: only a JWT signed by Plaid's key over this exact body, under five minutes
old, acts — and only once. Forged, tampered, stale and replayed webhooks change nothing."""

import hashlib
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.cache import cache

from accounts.tests.factories import approved_customer
from portfolios.models import BankLink, PlaidWebhookReceipt
from portfolios.tests.plaid_sandbox import PlaidSandbox, recording
from portfolios.tests.test_plaid_bank_rail import link_bank

pytestmark = pytest.mark.django_db
KEY_ID = "bfbd5111-8e33-4643-8ced-b2e642a72f3c"


def jwk_of(private_key) -> dict:
    """The recorded /webhook_verification_key/get answer, carrying this test key's point."""
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    answer = recording("webhook_verification_key_get")
    answer["key"].update(x=public["x"], y=public["y"])
    return answer


@pytest.fixture
def plaid_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def sandbox(settings, plaid_key):
    cache.clear()
    with PlaidSandbox() as server:
        settings.BANK_RAIL = "plaid"
        settings.PLAID_CLIENT_ID, settings.PLAID_SECRET = "5f9b3c1e8e1f2a0013a4b5c6", "sandbox-secret-for-tests"
        settings.PLAID_API_URL = server.url
        server.answer("/webhook_verification_key/get", jwk_of(plaid_key))
        yield server


def signed(body: bytes, key, *, iat=None, kid=KEY_ID) -> str:
    claims = {"iat": int(time.time()) if iat is None else iat, "request_body_sha256": hashlib.sha256(body).hexdigest()}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


def post(client, body: bytes, token: str):
    return client.post("/plaid/webhook/", data=body, content_type="application/json", HTTP_PLAID_VERIFICATION=token)


@pytest.fixture
def login_required_webhook() -> bytes:
    return json.dumps(recording("webhook_item_login_required")).encode()


@pytest.fixture
def alice_link(sandbox, alice):
    account = approved_customer(alice)
    from accounts.models import KYCApplication

    KYCApplication.objects.filter(user=alice).update(given_name="Alice", family_name="Walker")
    return link_bank(sandbox, account)


def test_a_signed_item_error_webhook_marks_the_link_once(
    client, sandbox, plaid_key, alice_link, login_required_webhook
):
    token = signed(login_required_webhook, plaid_key)
    response = post(client, login_required_webhook, token)
    assert response.status_code == 200 and response.json() == {"outcome": "processed"}
    alice_link.refresh_from_db()
    assert alice_link.status == BankLink.Status.LOGIN_REQUIRED

    replay = post(client, login_required_webhook, token)
    assert replay.status_code == 200 and replay.json() == {"outcome": "replayed"}
    assert PlaidWebhookReceipt.objects.count() == 1
    # Plaid's key was fetched once by its id and cached for the replay.
    assert [body["key_id"] for body in sandbox.requests_to("/webhook_verification_key/get")] == [KEY_ID]


def test_a_transfer_events_webhook_runs_the_event_sync_after_commit(
    client, sandbox, plaid_key, django_capture_on_commit_callbacks
):
    body = json.dumps(recording("webhook_transfer_events_update")).encode()
    sandbox.answer("/transfer/event/sync", "transfer_event_sync_empty")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body, signed(body, plaid_key)).status_code == 200
    assert sandbox.requests_to("/transfer/event/sync")[0]["after_id"] == 0


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body, key: signed(body, ec.generate_private_key(ec.SECP256R1())), id="someone-elses-key"),
        pytest.param(lambda body, key: signed(body + b" ", key), id="signed-another-body"),
        pytest.param(lambda body, key: signed(body, key, iat=int(time.time()) - 301), id="older-than-5-minutes"),
        pytest.param(
            lambda body, key: jwt.encode(
                {"iat": int(time.time())},
                "a-shared-secret-of-32-bytes-long!",
                algorithm="HS256",
                headers={"kid": KEY_ID},
            ),
            id="hs256",
        ),
        pytest.param(lambda body, key: "", id="no-header"),
        pytest.param(lambda body, key: "not-a-jwt", id="garbage"),
    ],
)
def test_forged_webhooks_change_nothing(client, sandbox, plaid_key, alice_link, login_required_webhook, forge):
    response = post(client, login_required_webhook, forge(login_required_webhook, plaid_key))
    assert response.status_code == 400
    alice_link.refresh_from_db()
    assert alice_link.status == BankLink.Status.APPROVED
    assert not PlaidWebhookReceipt.objects.exists()


def test_the_webhook_does_not_exist_on_the_simulated_rail(client, settings):
    settings.BANK_RAIL = "simulated"
    assert client.post("/plaid/webhook/", data=b"{}", content_type="application/json").status_code == 404
