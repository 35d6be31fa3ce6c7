"""Celery beat's scheduler: django-celery-beat's, with a heartbeat for `manage.py healthcheck beat`."""

from django_celery_beat.schedulers import DatabaseScheduler

from speedtrade.heartbeats import Heartbeat


class HeartbeatScheduler(DatabaseScheduler):
    """Beat ticks at least every `max_interval` (5 s) even with nothing due; each tick is its heartbeat."""

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        if not hasattr(self, "heartbeat"):
            self.heartbeat = Heartbeat("beat")
        self.heartbeat.beat()
        return interval
