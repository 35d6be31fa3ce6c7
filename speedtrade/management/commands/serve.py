"""Serve the ASGI app (HTTP + WebSockets) with uvicorn; prints where and who to log in as."""

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands.seed_demo import Command as SeedDemo
from speedtrade.process_metrics import multiprocess_dir_prepare


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
        if demo and settings.PRODUCTION:
            raise CommandError("--demo prints the demo logins, which do not exist in production.")
        if demo:
            self.stdout.write("Demo logins:\n" + SeedDemo.credentials_text())
        self.stdout.write("Press Ctrl-C to stop.\n")
        self.stdout.flush()
        if workers > 1:
            # Each worker is a fresh interpreter that reads this before importing prometheus_client:
            # they all write their samples here and /metrics adds them up (speedtrade/process_metrics.py).
            multiprocess_dir_prepare(settings.PROMETHEUS_WEB_MULTIPROC_DIR)
        uvicorn.run(
            "speedtrade.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="on",
            ws="websockets-sansio",
            ws_max_size=settings.WS_MAX_FRAME_BYTES,
            ws_per_message_deflate=settings.WS_PER_MESSAGE_DEFLATE,
            timeout_graceful_shutdown=5,
            # X-Forwarded-For / -Proto are believed only from these addresses (nginx in compose).
            proxy_headers=True,
            forwarded_allow_ips=settings.TRUSTED_PROXY_IPS,
        )
