"""Linking a bank with Plaid (BANK_RAIL=plaid): Link token, public-token exchange, webhooks.

The browser runs Plaid Link (its script must come from Plaid's host); everything else is
ours: the server creates the Link token, exchanges the public token, and checks ownership.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portfolios.models import BankLink
from portfolios.views import _own_account
from speedtrade.api.errors import domain_error_status
from speedtrade.errors import DomainError

logger = logging.getLogger(__name__)


def _plaid():
    """`portfolios.plaid`, imported by the first request that uses it: the Plaid SDK's models weigh about 19 MB,
    which no web worker of a deployment without Plaid should carry."""
    if settings.BANK_RAIL != "plaid":
        raise Http404("Bank linking is not enabled.")
    from portfolios import plaid

    return plaid


def _refusal(exc: DomainError) -> JsonResponse:
    return JsonResponse({"code": exc.code, "message": exc.message}, status=domain_error_status(exc))


@login_required
@require_POST
def link_token(request):
    plaid = _plaid()
    _own_account(request)
    try:
        return JsonResponse({"link_token": plaid.link_token_create(user=request.user)})
    except DomainError as exc:
        return _refusal(exc)


@login_required
@require_POST
def link_exchange(request):
    """Link's onSuccess posts public_token, account_id and institution_name here."""
    plaid = _plaid()
    account = _own_account(request)
    public_token, account_id = request.POST.get("public_token", ""), request.POST.get("account_id", "")
    if not public_token or not account_id:
        return JsonResponse(
            {"code": "validation_error", "message": "public_token and account_id are required."}, status=400
        )
    try:
        link = plaid.bank_link_create(
            account=account,
            public_token=public_token,
            plaid_account_id=account_id,
            institution_name=request.POST.get("institution_name", ""),
            request=request,
        )
    except DomainError as exc:
        return _refusal(exc)
    message = (
        "Bank linked."
        if link.status == BankLink.Status.APPROVED
        else "Bank linked. The account holder's name differs from yours, "
        "so compliance will review it before any money moves."
    )
    return JsonResponse({"id": str(link.pk), "status": link.status, "message": message})


@csrf_exempt
@require_POST
def plaid_webhook(request):
    """Plaid's webhooks; only ones whose JWT verifies do anything, and each only once."""
    plaid = _plaid()
    try:
        outcome = plaid.webhook_receive(body=request.body, token=request.headers.get("Plaid-Verification", ""))
    except plaid.WebhookRejected as exc:
        logger.warning("Plaid webhook rejected: %s", exc)
        return HttpResponse(status=400)
    return JsonResponse({"outcome": outcome})
