import time

from allauth.usersessions.internal import usersessionkit
from django.conf import settings


class ProcessTimeMiddleware:
    """Adds `X-Process-Time` (milliseconds spent in Django) to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Process-Time"] = f"{(time.perf_counter() - started) * 1000:.2f}ms"
        return response


class ThrottledUserSessionsMiddleware:
    """allauth's user-session activity tracking, at most once per USERSESSIONS_TRACK_ACTIVITY_SECONDS per session.

    allauth's own middleware writes the session's row (a transaction of four statements) on
    every authenticated request, API calls included: more database work than placing an order.
    Here a process remembers when it last tracked each session and from which IP and user
    agent; a different IP or agent is tracked at once (allauth's "client changed" signal),
    otherwise `last_seen_at` is refreshed at most once per interval.
    """

    MAX_REMEMBERED = 100_000

    def __init__(self, get_response):
        self.get_response = get_response
        self.tracked: dict[str, tuple[str, str, float]] = {}

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        key = session.session_key if session is not None else None
        if key and user is not None and user.is_authenticated:
            client = (request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_USER_AGENT", ""))
            last = self.tracked.get(key)
            now = time.monotonic()
            if last is None or last[:2] != client or now - last[2] >= settings.USERSESSIONS_TRACK_ACTIVITY_SECONDS:
                usersessionkit.track_activity(request, user=user, session=session)
                if len(self.tracked) >= self.MAX_REMEMBERED:
                    self.tracked.clear()
                self.tracked[key] = (*client, now)
        return self.get_response(request)
