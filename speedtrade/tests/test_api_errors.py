"""One error format for every 4xx; nothing half-written on bad input."""

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_route_is_404_json(alice_api):
    for path in ("/api/v1/no-such-thing", "/api/nothing/here", "/api/v1/me/extra"):
        response = alice_api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"code": "not_found", "message": "No such resource."}


def test_unknown_page_outside_the_api_is_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_malformed_json_is_400_and_changes_nothing(alice_api, alice):
    response = alice_api.generic("PATCH", "/api/v1/me", '{"first_name": "Al', content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert "JSON parse error" in body["message"]
    alice.refresh_from_db()
    assert alice.first_name == "Alice"


def test_validation_errors_name_the_field(alice_api, alice):
    response = alice_api.patch("/api/v1/me", {"first_name": "x" * 151}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == ["first_name"]
    assert "first_name" in body["message"]
    alice.refresh_from_db()
    assert alice.first_name == "Alice"


def test_wrong_method_uses_the_error_format(alice_api):
    response = alice_api.delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_profile_update_succeeds_with_valid_input(alice_api, alice):
    response = alice_api.patch("/api/v1/me", {"last_name": "Liddell"}, format="json")
    assert response.status_code == 200
    assert response.json()["last_name"] == "Liddell"
    assert response.json()["id"] == str(alice.pk)


def test_server_errors_never_show_a_stack_trace(alice_api, settings, monkeypatch):
    from accounts.api import views

    def explode(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(views, "user_update_profile", explode)
    alice_api.raise_request_exception = False
    response = alice_api.patch("/api/v1/me", {"last_name": "X"}, format="json")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "Something went wrong on our side; it has been logged.",
    }


def test_an_exhausted_connection_pool_is_503_with_retry_after(alice_api, monkeypatch):
    """Overload (no database connection free within DB_POOL_TIMEOUT_SECONDS) is not a server fault."""
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    from trading.models import Order

    def pool_exhausted(request):
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as timeout:
            raise OperationalError(str(timeout)) from timeout  # what Django's error wrapper raises

    # The view's first query (the caller's account) waits for a connection that never frees up.
    monkeypatch.setattr("trading.api.views._account", pool_exhausted)
    response = alice_api.post(
        "/api/v1/orders",
        {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"},
        format="json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "overloaded"
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/orders",
            {"code": "server_error", "message": "Something went wrong on our side; it has been logged."},
        ),
        ("/v2/orders", {"code": 50000000, "message": "Something went wrong on our side; it has been logged."}),
    ],
)
def test_an_unexpected_exception_is_json_even_with_debug_on(alice, alice_api, settings, monkeypatch, path, body):
    """Issue #16 item 4: the embedded default runs with DEBUG on, and an exception escaping a view
    answered Django's HTML debug page. Under /api and /v2 it is the error format, logged with its trace."""
    from accounts.tests.factories import approved_customer

    approved_customer(alice)
    settings.DEBUG = True

    def explode(**kwargs):
        raise ValueError("Order 1 releases 11.05, more than the account has reserved.")

    monkeypatch.setattr("trading.services.order_cancel_all", explode)
    alice_api.raise_request_exception = False
    response = alice_api.delete(path)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == body
