from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.db import transaction

from accounts.services.security import user_logged_out_sockets_close
from portfolios.services import account_open


class AccountAdapter(DefaultAccountAdapter):
    """Every person who signs up gets a brokerage account (onboarding until KYC approval)."""

    def save_user(self, request, user, form, commit=True):
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                account_open(user=user)
        return user

    def send_notification_mail(self, *args, **kwargs) -> None:
        """allauth's security notices (password changed, reset or set; MFA activated or removed) go out after
        the change commits (text from allauth, HTML from templates/{account,mfa}/email/*_message.html), still
        naming the request's IP and browser."""
        request = context.request
        parent_send = super().send_notification_mail

        def send() -> None:
            with context.request_context(request):
                parent_send(*args, **kwargs)

        transaction.on_commit(send, robust=True)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """Sessions the user ends from their sessions page (other devices) end like a logout: their sockets close
    and no process keeps their access tokens cached."""

    def end_sessions(self, sessions) -> None:
        super().end_sessions(sessions)
        for session in sessions:
            user_logged_out_sockets_close(user=session.user, session_key=session.session_key)
