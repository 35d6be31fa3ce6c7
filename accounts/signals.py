"""Receivers that only *record* authentication events in the audit trail (no business
logic lives here: logins and MFA changes happen inside Django and allauth)."""

from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

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
