"""Receivers for authentication events that happen inside Django and allauth (logins, logouts,
password and MFA changes): they record them in the audit trail, and hand credential changes to
`accounts.services` (which revokes API keys and closes sockets) — no rule is decided here."""

from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts import services
from accounts.audit import audit_event_record
from accounts.models import User


@receiver(user_logged_in, dispatch_uid="audit_login")
def record_login(sender, request, user, **kwargs):
    audit_event_record(action="auth.login", actor=user, target=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials, request=None, **kwargs):
    # Only the identifier is kept: credentials also hold the password (Django masks it,
    # but we never store anything but the login name).
    login = credentials.get("email") or credentials.get("username") or credentials.get("login") or ""
    known_user = User.objects.filter(email__iexact=login).first() if login else None
    audit_event_record(
        action="auth.login_failed",
        actor=None,
        target=known_user,
        subject_user=known_user,
        after={"login": login[:254]},
        request=request,
    )


@receiver(authenticator_added, dispatch_uid="audit_mfa_added")
def record_mfa_added(sender, request, user, authenticator, **kwargs):
    audit_event_record(
        action="mfa.authenticator_added", actor=user, target=user, after={"type": authenticator.type}, request=request
    )


@receiver(authenticator_removed, dispatch_uid="audit_mfa_removed")
def record_mfa_removed(sender, request, user, authenticator, **kwargs):
    audit_event_record(
        action="mfa.authenticator_removed",
        actor=user,
        target=user,
        before={"type": authenticator.type},
        request=request,
    )


@receiver(password_changed, dispatch_uid="credentials_password_changed")
@receiver(password_set, dispatch_uid="credentials_password_set")
@receiver(password_reset, dispatch_uid="credentials_password_reset")
def revoke_on_password_change(sender, request, user, **kwargs):
    audit_event_record(action="auth.password_changed", actor=user, target=user, request=request)
    services.user_credentials_changed(user=user, reason="password_changed", request=request)


@receiver(authenticator_added, dispatch_uid="credentials_mfa_added")
@receiver(authenticator_removed, dispatch_uid="credentials_mfa_removed")
@receiver(authenticator_reset, dispatch_uid="credentials_mfa_reset")
def revoke_on_mfa_change(sender, request, user, **kwargs):
    services.user_credentials_changed(user=user, reason="mfa_changed", request=request)


@receiver(user_logged_out, dispatch_uid="sockets_close_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None and request is not None:
        services.user_logged_out_sockets_close(user=user, session_key=getattr(request.session, "session_key", None))
