"""allauth's pages render inside the app's layout, every input with a visible label."""

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "inputs"),
    [
        ("/accounts/signup/", ["email", "password1", "password2"]),
        ("/accounts/login/", ["login", "password"]),
        ("/accounts/password/reset/", ["email"]),
    ],
)
def test_entrance_pages_use_the_app_layout_with_labelled_fields(client, path, inputs):
    html = client.get(path).content.decode()
    assert 'class="brand"' in html and 'class="card narrow auth"' in html
    for name in inputs:
        field_id = re.search(rf'name="{name}"[^>]*id="([^"]+)"', html).group(1)
        assert f'<label for="{field_id}">' in html


def test_manage_pages_sit_in_the_settings_frame(client, alice):
    client.force_login(alice)
    html = client.get("/accounts/password/change/").content.decode()
    assert 'aria-label="Settings"' in html
    assert 'href="/settings/api-keys/"' in html


def test_a_wrong_password_is_shown_in_an_alert(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": "not-the-password"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
