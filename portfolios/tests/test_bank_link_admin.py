"""Held bank links in the admin: Carol proposes on the change form, Dave confirms with the
list action; Carol cannot confirm her own proposal, and decided links cannot be edited."""

import pytest

from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory
from accounts.tests.sessions import mfa_client
from portfolios.tests.test_plaid_bank_rail import alice_active, link_bank, sandbox  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_link(sandbox, alice_active):  # noqa: F811
    return link_bank(sandbox, alice_active, identity="identity_get_mismatch")


@pytest.fixture
def dave_admin(db):
    return mfa_client(UserFactory(email="dave@example.com", first_name="Dave", staff_group="Compliance"))


def change_url(link) -> str:
    return f"/admin/portfolios/banklink/{link.pk}/change/"


def confirm(client, link):
    return client.post(
        "/admin/portfolios/banklink/", {"action": "confirm", "_selected_action": [str(link.pk)]}, follow=True
    )


def test_one_officer_proposes_another_confirms(held_link, carol_admin, dave_admin, carol):
    page = carol_admin.get(change_url(held_link)).content.decode()
    # What the reviewer decides on: owner names, the approved KYC name, the score.
    assert "Alberta Bobbeth Charleson" in page and "Alice Walker" in page
    assert str(held_link.name_match_score) in page
    response = carol_admin.post(
        change_url(held_link),
        {"review_proposal": "approve", "review_reason": "Spouse's joint account, documents on file."},
    )
    assert response.status_code == 302
    held_link.refresh_from_db()
    assert (held_link.status, held_link.review_proposal, held_link.proposed_by) == ("held", "approve", carol)

    assert "A different person must confirm" in confirm(carol_admin, held_link).content.decode()
    held_link.refresh_from_db()
    assert held_link.status == "held"

    assert "approve confirmed" in confirm(dave_admin, held_link).content.decode()
    held_link.refresh_from_db()
    assert held_link.status == "approved" and held_link.decided_by.email == "dave@example.com"
    actions = list(AuditEvent.objects.filter(target_id=str(held_link.pk)).values_list("action", flat=True))
    assert "bank_link.review_proposed" in actions and "bank_link.approved" in actions
    # Decided: read-only now.
    assert (
        carol_admin.post(change_url(held_link), {"review_proposal": "reject", "review_reason": "x"}).status_code == 403
    )
    held_link.refresh_from_db()
    assert held_link.status == "approved"


def test_support_cannot_decide(held_link, db):
    support = mfa_client(UserFactory(email="sam@example.com", staff_group="Support"))
    assert support.get("/admin/portfolios/banklink/").status_code == 200
    assert support.post(change_url(held_link), {"review_proposal": "approve", "review_reason": "x"}).status_code == 403
    assert confirm(support, held_link).status_code in (200, 403)
    held_link.refresh_from_db()
    assert held_link.status == "held" and held_link.review_proposal == ""
