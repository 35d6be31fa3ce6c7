"""Container healthchecks of the singleton processes: exit 0 when alive, 1 (and the reason) when not."""

import redis
from django.core.management.base import BaseCommand, CommandError

from speedtrade.heartbeats import MAX_AGE_SECONDS, heartbeat_problem


class Command(BaseCommand):
    help = (
        "Is the process alive? feed: quotes received in the last --max-age seconds; beat: the scheduler ticked; "
        "engine: the order engine took its inbox without an error; "
        "broker-streams: every venue stream connected or polling. Reads the heartbeat the process writes to Redis."
    )

    def add_arguments(self, parser):
        parser.add_argument("process", choices=sorted(MAX_AGE_SECONDS))
        parser.add_argument("--max-age", type=float, help="seconds (default: 60)")

    def handle(self, *args, process, max_age, **options):
        try:
            problem = heartbeat_problem(process, max_age=max_age)
        except redis.RedisError as exc:
            raise CommandError(f"{process}: cannot read its heartbeat ({exc.__class__.__name__})") from exc
        if problem:
            raise CommandError(problem)
        self.stdout.write(f"{process}: ok")
