"""Logged-in test sessions that look the way allauth records them."""

import time

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client


def mfa_client(user) -> Client:
    """A browser session of `user` that logged in with password and TOTP (as allauth records it)."""
    TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def staff_day(at=None):
    """The day as a staff member reads it: the admin's date fields are in their time zone (the default here), so
    between midnight UTC and midnight in New York it is not the server's date."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from accounts.models import User

    return timezone.localdate(at or timezone.now(), ZoneInfo(User.DEFAULT_TIME_ZONE))
