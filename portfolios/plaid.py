"""Plaid: link a customer's bank (Link + Auth + Identity), prove it is theirs, move money
with the Transfer API, verify its webhooks. `BANK_RAIL=plaid`. Its transfer events are applied
by `portfolios.plaid_events` (they call the transfer services, which submit through this rail).

Every call goes through the official `plaid-python` client (`plaid_client()`); tests point
it at a local server replaying Plaid's recorded sandbox responses (`PLAID_API_URL`).

One module despite its length (issue 17): it is the one place that speaks to Plaid — its client and
error mapping are shared by linking, the transfer rail and the webhook checks.
"""

import hashlib
import hmac
import json
import logging
import re
import time
import unicodedata
from decimal import Decimal
from difflib import SequenceMatcher

import jwt
import plaid
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from plaid.api import plaid_api
from plaid.model.ach_class import ACHClass
from plaid.model.auth_get_request import AuthGetRequest
from plaid.model.auth_get_request_options import AuthGetRequestOptions
from plaid.model.country_code import CountryCode
from plaid.model.identity_get_request import IdentityGetRequest
from plaid.model.identity_get_request_options import IdentityGetRequestOptions
from plaid.model.item_public_token_exchange_request import ItemPublicTokenExchangeRequest
from plaid.model.link_token_create_request import LinkTokenCreateRequest
from plaid.model.link_token_create_request_user import LinkTokenCreateRequestUser
from plaid.model.products import Products
from plaid.model.transfer_authorization_create_request import TransferAuthorizationCreateRequest
from plaid.model.transfer_authorization_idempotency_key import TransferAuthorizationIdempotencyKey
from plaid.model.transfer_authorization_user_in_request import TransferAuthorizationUserInRequest
from plaid.model.transfer_create_idempotency_key import TransferCreateIdempotencyKey
from plaid.model.transfer_create_request import TransferCreateRequest
from plaid.model.transfer_network import TransferNetwork
from plaid.model.transfer_type import TransferType
from plaid.model.webhook_verification_key_get_request import WebhookVerificationKeyGetRequest

from accounts.audit import audit_event_record
from accounts.encryption import decrypt_text, encrypt_text, rows_reencrypt
from accounts.models import KYCApplication, User
from portfolios.bank_rail import BankRailRefused, BankRailUnavailable
from portfolios.models import Account, BankLink, PlaidTransfer, PlaidWebhookReceipt, Transfer
from speedtrade.errors import DomainError, Unavailable
from speedtrade.four_eyes import require_permission, require_second_person
from speedtrade.task_queue import task_named

logger = logging.getLogger(__name__)

REQUIRED_SETTINGS = ("PLAID_CLIENT_ID", "PLAID_SECRET")
_HOSTS = {"sandbox": plaid.Environment.Sandbox, "production": plaid.Environment.Production}


# --- Client and errors -------------------------------------------------------------------


def missing_settings() -> list[str]:
    missing = [name for name in REQUIRED_SETTINGS if not getattr(settings, name)]
    if not settings.PLAID_API_URL and settings.PLAID_ENV not in _HOSTS:
        missing.append("PLAID_ENV (sandbox or production)")
    return missing


def plaid_client() -> plaid_api.PlaidApi:
    missing = missing_settings()
    if missing:
        raise ImproperlyConfigured(f"BANK_RAIL=plaid needs {', '.join(missing)}.")
    configuration = plaid.Configuration(
        host=settings.PLAID_API_URL or _HOSTS[settings.PLAID_ENV],
        api_key={"clientId": settings.PLAID_CLIENT_ID, "secret": settings.PLAID_SECRET},
    )
    return plaid_api.PlaidApi(plaid.ApiClient(configuration))


def plaid_error(exc: plaid.ApiException) -> dict:
    """Plaid's error object (`error_type`, `error_code`, `display_message`, ...) from an ApiException."""
    try:
        return json.loads(exc.body or "{}")
    except ValueError:
        return {}


def is_retryable(exc: plaid.ApiException) -> bool:
    return exc.status == 429 or (exc.status or 0) >= 500


# --- Link: token, exchange, ownership ----------------------------------------------------


def link_token_create(*, user: User) -> str:
    request = LinkTokenCreateRequest(
        client_name="SpeedTrade",
        language="en",
        country_codes=[CountryCode("US")],
        user=LinkTokenCreateRequestUser(client_user_id=str(user.pk)),
        products=[Products("auth"), Products("identity"), Products("transfer")],
        **({"webhook": settings.PLAID_WEBHOOK_URL} if settings.PLAID_WEBHOOK_URL else {}),
    )
    try:
        return plaid_client().link_token_create(request).link_token
    except plaid.ApiException as exc:
        raise _rule_violation(exc) from exc


def _rule_violation(exc: plaid.ApiException) -> DomainError:
    error = plaid_error(exc)
    if exc.status == 429:
        return Unavailable("The bank link service is busy; try again in a minute.", code="busy")
    message = error.get("display_message") or "The bank could not be linked. Try again or use another bank."
    return DomainError(message, code=(error.get("error_code") or "plaid_error").lower())


def approved_kyc_name(account: Account) -> str:
    application = KYCApplication.objects.filter(user_id=account.user_id, status=KYCApplication.Status.APPROVED).first()
    if application is None:
        return ""
    return f"{application.given_name} {application.family_name}".strip()


def _name_tokens(name: str) -> list[str]:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return sorted(token for token in re.split(r"[^a-z]+", ascii_name) if token)


def name_match_score(kyc_name: str, owner_names: list[str]) -> Decimal:
    """Best similarity (0..1) between the KYC name and any owner name, word order ignored;
    an owner name that contains every KYC word scores 1 (middle names, "Smith Jr.")."""
    wanted = _name_tokens(kyc_name)
    if not wanted:
        return Decimal("0.000")
    best = 0.0
    for owner in owner_names:
        tokens = _name_tokens(owner)
        if set(wanted) <= set(tokens):
            best = 1.0
            break
        best = max(best, SequenceMatcher(None, " ".join(wanted), " ".join(tokens)).ratio())
    return Decimal(str(round(best, 3)))


def bank_link_create(
    *, account: Account, public_token: str, plaid_account_id: str, institution_name: str = "", request=None
) -> BankLink:
    """Exchange Link's public token, read Auth and Identity, and record the link: approved
    when an owner name matches the approved KYC name, otherwise held for compliance."""
    client = plaid_client()
    try:
        exchange = client.item_public_token_exchange(ItemPublicTokenExchangeRequest(public_token=public_token))
        auth = client.auth_get(
            AuthGetRequest(
                access_token=exchange.access_token, options=AuthGetRequestOptions(account_ids=[plaid_account_id])
            )
        )
        identity = client.identity_get(
            IdentityGetRequest(
                access_token=exchange.access_token,
                options=IdentityGetRequestOptions(account_ids=[plaid_account_id]),
            )
        )
    except plaid.ApiException as exc:
        raise _rule_violation(exc) from exc
    bank_account = next((a for a in auth.accounts if a.account_id == plaid_account_id), None)
    numbers = next((n for n in auth.numbers.ach if n.account_id == plaid_account_id), None)
    if bank_account is None or numbers is None:
        raise DomainError("That account cannot send or receive ACH transfers.", code="no_ach_numbers")
    owner_names = [
        name
        for identity_account in identity.accounts
        if identity_account.account_id == plaid_account_id
        for owner in identity_account.get("owners", [])
        for name in owner.names
    ]
    kyc_name = approved_kyc_name(account)
    score = name_match_score(kyc_name, owner_names)
    matched = bool(kyc_name) and score >= settings.PLAID_NAME_MATCH_THRESHOLD
    return _bank_link_record(
        account=account,
        status=BankLink.Status.APPROVED if matched else BankLink.Status.HELD,
        plaid_item_id=exchange.item_id,
        plaid_account_id=plaid_account_id,
        access_token_encrypted=encrypt_text(exchange.access_token),
        institution_name=institution_name[:200],
        account_name=bank_account.name[:200],
        account_mask=numbers.account[-4:],
        routing_mask=numbers.routing[-4:],
        owner_names=owner_names,
        kyc_name=kyc_name,
        name_match_score=score,
        request=request,
    )


@transaction.atomic
def _bank_link_record(*, account: Account, status: str, request=None, **fields) -> BankLink:
    link, _ = BankLink.objects.update_or_create(
        account=account, plaid_account_id=fields.pop("plaid_account_id"), defaults={"status": status, **fields}
    )
    audit_event_record(
        action="bank_link.created",
        actor=account.user,
        target=link,
        subject_user=account.user,
        after={"institution": link.institution_name, "account_mask": link.account_mask},
        request=request,
    )
    # The ownership decision is the system's, recorded apart from the customer's action.
    audit_event_record(
        action="bank_link.owner_matched" if status == BankLink.Status.APPROVED else "bank_link.held",
        actor=None,
        target=link,
        subject_user=account.user,
        after={
            "status": status,
            "owner_names": link.owner_names,
            "kyc_name": link.kyc_name,
            "name_match_score": str(link.name_match_score),
            "threshold": str(settings.PLAID_NAME_MATCH_THRESHOLD),
        },
    )
    return link


@transaction.atomic
def access_tokens_reencrypt() -> int:
    """Re-encrypt every stored Plaid access token under the current key (`rotate_encryption_keys`)."""
    count = rows_reencrypt(BankLink.objects.all(), "access_token_encrypted")
    if count:
        audit_event_record(action="bank_link.access_tokens_reencrypted", after={"bank_links": count})
    return count


# --- Compliance review of held links (two people) ----------------------------------------


def _locked_held_link(link: BankLink, actor: User) -> BankLink:
    require_permission(actor, "portfolios.review_banklink", "You may not review bank links.")
    link = BankLink.objects.select_for_update().select_related("account__user").get(pk=link.pk)
    if link.status != BankLink.Status.HELD:
        raise DomainError(f"This bank link is {link.status}, not held.", code="already_decided")
    return link


@transaction.atomic
def bank_link_review_propose(*, link: BankLink, decision: str, reason: str, actor: User, request=None) -> BankLink:
    """First reviewer: propose approving or rejecting a held link, with a reason."""
    if decision not in ("approve", "reject"):
        raise DomainError("Decision is approve or reject.", code="invalid_decision", field="decision")
    if not reason.strip():
        raise DomainError("A reason is required.", code="reason_required", field="reason")
    link = _locked_held_link(link, actor)
    link.review_proposal, link.review_reason, link.proposed_by = decision, reason.strip()[:500], actor
    link.save(update_fields=["review_proposal", "review_reason", "proposed_by"])
    audit_event_record(
        action="bank_link.review_proposed",
        actor=actor,
        target=link,
        subject_user=link.account.user,
        after={"decision": decision, "reason": link.review_reason, "name_match_score": str(link.name_match_score)},
        request=request,
    )
    return link


@transaction.atomic
def bank_link_review_confirm(*, link: BankLink, actor: User, request=None) -> BankLink:
    """Second reviewer, a different person: the proposed decision takes effect."""
    link = _locked_held_link(link, actor)
    if not link.review_proposal:
        raise DomainError("Nothing has been proposed for this link yet.", code="nothing_proposed")
    require_second_person(
        proposed_by_id=link.proposed_by_id,
        decided_by=actor,
        message="A different person must confirm the decision than the one who proposed it.",
    )
    link.status = BankLink.Status.APPROVED if link.review_proposal == "approve" else BankLink.Status.REJECTED
    link.decided_by, link.decided_at = actor, timezone.now()
    link.save(update_fields=["status", "decided_by", "decided_at"])
    audit_event_record(
        action=f"bank_link.{link.status}",
        actor=actor,
        target=link,
        subject_user=link.account.user,
        before={"status": BankLink.Status.HELD, "proposed_by": str(link.proposed_by_id)},
        after={"status": link.status, "reason": link.review_reason, "name_match_score": str(link.name_match_score)},
        request=request,
    )
    return link


@transaction.atomic
def bank_links_login_required(*, plaid_item_id: str) -> int:
    """Plaid says the customer must log in to their bank again: stop using the item's links."""
    links = list(
        BankLink.objects.select_for_update()
        .select_related("account__user")
        .filter(plaid_item_id=plaid_item_id, status=BankLink.Status.APPROVED)
    )
    for link in links:
        link.status = BankLink.Status.LOGIN_REQUIRED
        link.save(update_fields=["status"])
        audit_event_record(
            action="bank_link.login_required",
            target=link,
            subject_user=link.account.user,
            before={"status": BankLink.Status.APPROVED},
            after={"status": link.status},
        )
    return len(links)


# --- The rail ---------------------------------------------------------------------------


class BankLinkLoginRequired(BankRailRefused):
    def __init__(self, reason: str, *, plaid_item_id: str):
        super().__init__(reason, code="item_login_required")
        self.plaid_item_id = plaid_item_id

    def after_rejection(self) -> None:
        bank_links_login_required(plaid_item_id=self.plaid_item_id)


def usable_bank_link(account: Account) -> BankLink | None:
    return account.bank_links.filter(status__in=BankLink.USABLE_STATUSES).order_by("-created_at").first()


class PlaidBankRail:
    name = "plaid"
    settles_at_once = False

    def submit(self, transfer: Transfer) -> str:
        """Authorize, then create, a Plaid transfer for an approved link; both calls carry the
        transfer's id as idempotency key, so a retried submission cannot move money twice."""
        link = usable_bank_link(transfer.account)
        if link is None:
            raise BankRailRefused("No approved linked bank account.", code="no_bank_link")
        client = plaid_client()
        access_token = decrypt_text(link.access_token_encrypted)
        incoming = transfer.direction == Transfer.Direction.INCOMING
        try:
            authorization = client.transfer_authorization_create(
                TransferAuthorizationCreateRequest(
                    access_token=access_token,
                    account_id=link.plaid_account_id,
                    type=TransferType("debit" if incoming else "credit"),
                    network=TransferNetwork("ach"),
                    amount=f"{transfer.amount:.2f}",
                    ach_class=ACHClass("ppd"),
                    user=TransferAuthorizationUserInRequest(legal_name=link.kyc_name or link.account.user.email),
                    idempotency_key=TransferAuthorizationIdempotencyKey(str(transfer.pk)),
                )
            ).authorization
            if str(authorization.decision) != "approved":
                rationale = authorization.get("decision_rationale")
                raise BankRailRefused(
                    f"Bank transfer declined: {rationale.description if rationale else authorization.decision}",
                    code=str(rationale.code).lower() if rationale else "declined",
                )
            created = client.transfer_create(
                TransferCreateRequest(
                    access_token=access_token,
                    account_id=link.plaid_account_id,
                    authorization_id=authorization.id,
                    description="SpeedTrade"[:15],
                    idempotency_key=TransferCreateIdempotencyKey(str(transfer.pk)),
                )
            ).transfer
        except plaid.ApiException as exc:
            error = plaid_error(exc)
            if is_retryable(exc):
                raise BankRailUnavailable(error.get("error_code") or f"HTTP {exc.status}") from exc
            if error.get("error_code") == "ITEM_LOGIN_REQUIRED":
                raise BankLinkLoginRequired(
                    "Your bank needs you to log in again: relink it.", plaid_item_id=link.plaid_item_id
                ) from exc
            raise BankRailRefused(
                error.get("display_message") or error.get("error_message") or "Bank transfer refused.",
                code=(error.get("error_code") or "plaid_error").lower(),
            ) from exc
        PlaidTransfer.objects.create(
            transfer=transfer, bank_link=link, authorization_id=authorization.id, plaid_transfer_id=created.id
        )
        return created.id


# --- Webhooks ---------------------------------------------------------------------------


class WebhookRejected(Exception):
    pass


def _verification_key(key_id: str) -> dict:
    cache_key = f"plaid:webhook-key:{key_id}"
    key = cache.get(cache_key)
    if key is None:
        try:
            response = plaid_client().webhook_verification_key_get(WebhookVerificationKeyGetRequest(key_id=key_id))
        except plaid.ApiException as exc:
            raise WebhookRejected(f"unknown verification key ({exc.status})") from exc
        key = response.key.to_dict()
        cache.set(cache_key, key, 24 * 3600)
    return key


def webhook_verify(*, body: bytes, token: str) -> dict:
    """Plaid's webhook verification: the `Plaid-Verification` header is an ES256 JWT signed
    with a key we fetch by its `kid`; it must be under 5 minutes old and carry the SHA-256
    of this exact body. Returns the webhook's JSON."""
    if not token:
        raise WebhookRejected("missing Plaid-Verification header")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise WebhookRejected("malformed token") from exc
    if header.get("alg") != "ES256" or not header.get("kid"):
        raise WebhookRejected("token is not ES256 with a key id")
    key = _verification_key(header["kid"])
    if key.get("expired_at"):
        raise WebhookRejected("verification key expired")
    public_key = jwt.PyJWK({k: key[k] for k in ("kty", "crv", "x", "y", "alg", "use", "kid") if k in key}).key
    try:
        claims = jwt.decode(token, key=public_key, algorithms=["ES256"], options={"require": ["iat"]})
    except jwt.PyJWTError as exc:
        raise WebhookRejected(f"bad signature: {exc}") from exc
    if time.time() - claims["iat"] > settings.PLAID_WEBHOOK_MAX_AGE_SECONDS:
        raise WebhookRejected("token too old")
    if not hmac.compare_digest(str(claims.get("request_body_sha256", "")), hashlib.sha256(body).hexdigest()):
        raise WebhookRejected("body does not match the signed hash")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookRejected("body is not JSON") from exc


def webhook_receive(*, body: bytes, token: str) -> str:
    """Verify, record once, act. Returns what happened ("processed", "replayed")."""
    payload = webhook_verify(body=body, token=token)
    webhook_type, webhook_code = str(payload.get("webhook_type", "")), str(payload.get("webhook_code", ""))
    try:
        with transaction.atomic():
            PlaidWebhookReceipt.objects.create(
                token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                webhook_type=webhook_type[:64],
                webhook_code=webhook_code[:64],
            )
            if webhook_type == "TRANSFER" and webhook_code == "TRANSFER_EVENTS_UPDATE":
                transaction.on_commit(task_named("portfolios.tasks.sync_plaid_transfer_events").delay)
            elif webhook_type == "ITEM" and (payload.get("error") or {}).get("error_code") == "ITEM_LOGIN_REQUIRED":
                bank_links_login_required(plaid_item_id=str(payload.get("item_id", "")))
    except IntegrityError:
        return "replayed"
    return "processed"
