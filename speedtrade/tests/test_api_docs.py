import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_swagger_ui_renders_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()


def test_redoc_renders_without_a_cdn(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "redoc" in html.lower()
    assert "cdn" not in html.lower()
    # Nothing it loads leaves the site: no Google Fonts (drf-spectacular's template has them), local script.
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html


@pytest.mark.parametrize("path", ["/api/redoc/", "/api/docs/", "/accounts/login/"])
def test_every_page_names_a_local_favicon_and_favicon_ico_exists(client, path):
    from django.contrib.staticfiles import finders

    html = client.get(path).content.decode()
    assert re.search(r'<link rel="(?:shortcut )?icon" href="/static/[^"]*favicon', html)
    response = client.get("/favicon.ico")  # what the admin and the browsable API make browsers ask for
    assert response.status_code == 302 and response.url == "/static/favicon.ico"
    assert finders.find("favicon.ico") and finders.find("favicon.svg")


def test_schema_lists_the_api_and_its_auth(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/me" in schema["paths"]
    assert {"jwtTokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_schema_generation_has_no_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))


def test_browsable_api_renders_for_a_logged_in_user(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/me", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"alice@example.com" in response.content
