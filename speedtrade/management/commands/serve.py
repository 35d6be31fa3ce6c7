"""Serve the ASGI app (HTTP + WebSockets) with uvicorn; prints where and who to log in as."""

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.management.commands.seed_demo import Command as SeedDemo


class Command(BaseCommand):
    help = "Run the ASGI server (uvicorn). Stops cleanly on Ctrl-C / SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--demo", action="store_true", help="print the demo credentials")

    def handle(self, *args, host, port, workers, demo, **options):
        self.stdout.write(self.style.SUCCESS(f"\nSpeedTrade is starting on http://{host}:{port}/"))
        self.stdout.write(f"  API docs: http://{host}:{port}/api/docs/   admin: http://{host}:{port}/admin/")
        if demo:
            self.stdout.write("Demo logins:\n" + SeedDemo.credentials_text())
        self.stdout.write("Press Ctrl-C to stop.\n")
        self.stdout.flush()
        uvicorn.run(
            "speedtrade.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="on",
            ws="websockets-sansio",
            ws_max_size=settings.WS_MAX_FRAME_BYTES,
            timeout_graceful_shutdown=5,
            proxy_headers=True,
        )
