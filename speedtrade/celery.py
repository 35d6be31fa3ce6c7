"""The Celery application. In the embedded default tasks run eagerly, in process."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedtrade.settings")

app = Celery("speedtrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _beat_waits_for_leadership(sender=None, **kwargs) -> None:
    """Only one beat schedules: a second one waits here, as a hot standby, until the first one's lock is free."""
    from speedtrade.locks import AdvisoryLock
    from speedtrade.singleton import Singleton

    Singleton(AdvisoryLock.CELERY_BEAT).wait_until_active()
