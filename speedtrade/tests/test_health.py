import pytest

import speedtrade


def test_health_reports_version_and_environment(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": speedtrade.__version__, "environment": "test"}


def test_every_response_carries_process_time(client):
    response = client.get("/health")
    assert response["X-Process-Time"].endswith("ms")
    assert float(response["X-Process-Time"][:-2]) >= 0


@pytest.mark.django_db
def test_ready_checks_database_redis_and_channel_layer(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_ready_is_503_and_names_the_failed_check_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "ConnectionError"
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_are_served_to_the_internal_network(client):
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_metrics_are_refused_to_the_public_in_production(client, settings):
    settings.PRODUCTION = True
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_health_and_ready_answer_a_probe_whose_host_is_not_allowed(client, settings):
    """Container healthchecks ask 127.0.0.1, which a production ALLOWED_HOSTS does not list."""
    settings.ALLOWED_HOSTS = ["speedtrade.example.com"]
    assert client.get("/health", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/ready", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/api/v1/me", HTTP_HOST="127.0.0.1:8000").status_code == 400
