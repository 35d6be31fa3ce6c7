"""What ends when the user's credentials change or they log out: API keys, sockets and cached credentials."""

from django.db import transaction

from accounts.emails import security_email_send_on_commit
from accounts.models import ApiKey, User
from accounts.services.api_keys import api_key_revoked_record
from speedtrade.auth_cache import credentials_revoke
from speedtrade.realtime import sockets_close


@transaction.atomic
def user_credentials_changed(*, user: User, reason: str, request=None) -> list[ApiKey]:
    """The user's password or MFA changed: every API key is revoked and every socket closes.

    Whoever had the old password (or a stolen session) may have made keys; they end with it. Returns the
    keys revoked (the user is told by email: allauth mails the change itself, this mails the keys).
    """
    keys = list(ApiKey.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
    for key in keys:
        api_key_revoked_record(key=key, actor=user, reason=reason, request=request)
    sockets_close(user.pk, everything=True)
    credentials_revoke(user.pk, everything=True)
    if keys:
        security_email_send_on_commit(user=user, template="api_keys_revoked", context={"keys": keys}, request=request)
    return keys


def user_logged_out_sockets_close(*, user: User, session_key: str | None) -> None:
    """A logout (or a session ended from another device) ends the sockets its session (cookie or access token)
    opened, and every process forgets its access tokens."""
    if session_key:
        sockets_close(user.pk, session_key=session_key)
        credentials_revoke(user.pk, session_key=session_key)
