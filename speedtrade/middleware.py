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


_TRACKED: dict[str, tuple[str, str, float]] = {}  # session key -> (IP, user agent, monotonic time tracked)
_MAX_TRACKED = 100_000


def session_activity_track(request, *, user, session) -> None:
    """allauth's user-session activity tracking, at most once per USERSESSIONS_TRACK_ACTIVITY_SECONDS per session.

    allauth writes the session's row (a transaction of four statements) on every authenticated
    request, API calls included: more database work than placing an order. Here a process
    remembers when it last tracked each session and from which IP and user agent; a different
    IP or agent is tracked at once (allauth's "client changed" signal), otherwise `last_seen_at`
    is refreshed at most once per interval.
    """
    key = session.session_key if session is not None else None
    if not key or user is None or not user.is_authenticated:
        return
    client = (request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_USER_AGENT", ""))
    last = _TRACKED.get(key)
    now = time.monotonic()
    if last is None or last[:2] != client or now - last[2] >= settings.USERSESSIONS_TRACK_ACTIVITY_SECONDS:
        usersessionkit.track_activity(request, user=user, session=session)
        if len(_TRACKED) >= _MAX_TRACKED:
            _TRACKED.clear()
        _TRACKED[key] = (*client, now)


class ThrottledUserSessionsMiddleware:
    """allauth's UserSessionsMiddleware through `session_activity_track` (browser sessions)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session_activity_track(request, user=getattr(request, "user", None), session=getattr(request, "session", None))
        return self.get_response(request)
