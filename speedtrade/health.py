"""Liveness (`/health`) and readiness (`/ready`) endpoints for load balancers and compose."""

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

import speedtrade


@never_cache
@require_GET
def health(request):
    return JsonResponse({"status": "ok", "version": speedtrade.__version__, "environment": settings.ENVIRONMENT})


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> str | None:
    if not settings.REDIS_URL:
        return "not used (embedded mode)"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return None


async def _channel_layer_round_trip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    marker = uuid.uuid4().hex
    await layer.send(channel, {"type": "ready.check", "marker": marker})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("marker") != marker:
        raise RuntimeError("channel layer returned another message")


def check_channel_layer() -> None:
    async_to_sync(_channel_layer_round_trip)()


READINESS_CHECKS = {"database": check_database, "redis": check_redis, "channel_layer": check_channel_layer}


@never_cache
@require_GET
def ready(request):
    failed = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            failed[name] = exc.__class__.__name__
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": {name: failed.get(name, "ok") for name in READINESS_CHECKS},
    }
    return JsonResponse(body, status=503 if failed else 200)


class HealthCheckMiddleware:
    """Answers `/health` and `/ready` before anything reads the Host header.

    Container healthchecks probe `127.0.0.1`, which is rightly not in a production ALLOWED_HOSTS: through
    the rest of the stack they would get 400 and the container would never be healthy. These two answers
    reveal nothing a host check protects (no links, no cookies), so they skip it.
    """

    PATHS = {"/health": health, "/ready": ready}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.PATHS.get(request.path_info)
        return view(request) if view is not None else self.get_response(request)
