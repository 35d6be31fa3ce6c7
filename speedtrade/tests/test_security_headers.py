"""Content-Security-Policy (issue 16, item 16): the dashboard runs no inline script, and htmx and the
vendored libraries work within it."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.django_db
def test_the_dashboard_allows_scripts_and_sockets_from_its_own_origin_only(alice):
    browser = Client()
    browser.force_login(alice)

    response = browser.get("/")

    directives = policy(response)
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.django_db
def test_the_login_page_is_covered_too(client):
    assert policy(client.get("/accounts/login/"))["script-src"] == ["'self'"]


def test_no_template_carries_inline_script_or_event_handlers():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        if "templates/emails/" in str(template) or "/email/" in str(template):
            continue  # emails are not pages
        if INLINE_SCRIPT.search(text) or EVENT_HANDLER.search(text):
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


def test_htmx_needs_neither_inline_styles_nor_eval():
    base = (ROOT / "templates" / "base.html").read_text()
    config = json.loads(re.search(r"""name="htmx-config" content='([^']+)'""", base).group(1))
    assert config["includeIndicatorStyles"] is False  # htmx would otherwise inject a <style> the policy blocks
    assert config["allowEval"] is False and config["allowScriptTags"] is False


@pytest.mark.django_db
def test_the_api_docs_start_swagger_ui_from_a_script_file(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert not INLINE_SCRIPT.search(response.content.decode())
    assert policy(response)["script-src"] == ["'self'"]
