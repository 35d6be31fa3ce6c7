"""API keys: creation (after the person confirms who they are again), revocation, authentication."""

import hashlib
import hmac
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.emails import security_email_send_on_commit
from accounts.models import ApiKey, User
from speedtrade.auth_cache import credentials_revoke
from speedtrade.errors import DomainError, InvalidInput, NotPermitted, full_clean
from speedtrade.realtime import sockets_close

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
# last_used_at is a hint for the key list, not an access log: written at most this often.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyInvalid(Exception):
    """Unknown key id, wrong secret, or a revoked key: all look the same to the caller."""


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, user: User, label: str = "", scope: str = ApiKey.Scope.TRADING, request=None
) -> tuple[ApiKey, str]:
    """A new key pair; the secret is returned here once and never stored in clear."""
    if scope not in ApiKey.Scope.values:
        raise InvalidInput({"scope": f"Choose among: {', '.join(ApiKey.Scope.values)}."})
    # The user's row lock serialises concurrent creations, so the limit holds.
    User.objects.select_for_update().only("pk").get(pk=user.pk)
    limit = settings.API_KEYS_MAX_ACTIVE
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= limit:
        raise DomainError(
            f"You already have {limit} active API keys, the most allowed: revoke one first.",
            code="api_key_limit_reached",
        )
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    key = ApiKey(
        user=user,
        key_id="PK" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(18)),
        secret_sha256=_secret_digest(secret),
        label=label.strip(),
        scope=scope,
    )
    full_clean(key)
    key.save()
    audit_event_record(
        action="api_key.created",
        actor=user,
        target=key,
        after={"key_id": key.key_id, "label": key.label, "scope": key.scope},
        request=request,
    )
    security_email_send_on_commit(user=user, template="api_key_created", context={"key": key}, request=request)
    return key, secret


def user_identity_confirm(*, user: User, password_or_code: str) -> None:
    """The person at the keyboard proves again that they are the user: their password, or a current code
    of their authenticator app. NotPermitted otherwise."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    answer = (password_or_code or "").strip()
    if answer and user.check_password(answer):
        return
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if answer and totp is not None and TOTP(totp).validate_code(answer):
        return
    raise NotPermitted("Confirm with your password (or your authenticator code).", code="reauthentication_failed")


def api_key_create_confirmed(
    *, user: User, password_or_code: str, label: str = "", scope: str = ApiKey.Scope.TRADING, request=None
) -> tuple[ApiKey, str]:
    """A key asked for by a person (dashboard, API): only after they confirm who they are again."""
    user_identity_confirm(user=user, password_or_code=password_or_code)
    return api_key_create(user=user, label=label, scope=scope, request=request)


def api_key_revoked_record(*, key: ApiKey, actor: User, reason: str, request=None) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_event_record(
        action="api_key.revoked",
        actor=actor,
        target=key,
        before={"key_id": key.key_id, "revoked_at": None},
        after={"key_id": key.key_id, "revoked_at": key.revoked_at.isoformat(), "reason": reason},
        request=request,
    )
    sockets_close(key.user_id, api_key_id=key.key_id)
    credentials_revoke(key.user_id, api_key_id=key.key_id)


@transaction.atomic
def api_key_revoke(*, user: User, key_id: str, request=None) -> ApiKey:
    """Revoke one of the user's keys; the next request made with it is refused, its sockets close.

    Raises ApiKey.DoesNotExist for a key that is not the user's. Revoking twice is harmless.
    """
    key = ApiKey.objects.select_for_update().get(user=user, key_id=key_id)
    if key.revoked_at is None:
        api_key_revoked_record(key=key, actor=user, reason="revoked_by_owner", request=request)
        security_email_send_on_commit(user=user, template="api_key_revoked", context={"key": key}, request=request)
    return key


def api_key_authenticate(*, key_id: str, secret: str) -> ApiKey:
    """The active key (with its user) that this id and secret name, or ApiKeyInvalid."""
    key = ApiKey.objects.select_related("user").filter(key_id=key_id, revoked_at__isnull=True).first()
    # Compare a digest even for an unknown key id so timing does not tell which ids exist.
    expected = key.secret_sha256 if key is not None else _secret_digest("")
    if not hmac.compare_digest(expected, _secret_digest(secret)) or key is None or not key.user.is_active:
        raise ApiKeyInvalid
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        # Conditional: of concurrent requests at most one writes, and no row lock is taken.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - _LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
