"""Fail fast, in one line, when PostgreSQL or Redis is not reachable (used by `make test`)."""

import sys

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from psycopg import sql

from speedtrade.health import check_redis

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis (services mode) are reachable; create the database if missing."

    def handle(self, *args, **options):
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            self._fail("Services mode needs DATABASE_URL (PostgreSQL) and REDIS_URL; refusing to fall back to SQLite.")
        try:
            self._ensure_database()
        except psycopg.Error as exc:
            self._fail(
                f"PostgreSQL is unreachable ({exc.__class__.__name__}); start it with: {HOW_TO_START['PostgreSQL']}"
            )
        try:
            check_redis()
        except Exception as exc:
            self._fail(f"Redis is unreachable ({exc.__class__.__name__}); start it with: {HOW_TO_START['Redis']}")
        self.stdout.write("PostgreSQL and Redis are reachable.")

    def _ensure_database(self) -> None:
        params = connection.get_connection_params()
        name = params.pop("dbname")
        with psycopg.connect(**params, dbname="postgres", connect_timeout=3, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(1)
