"""The Celery application. In the embedded default tasks run eagerly, in process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedtrade.settings")

app = Celery("speedtrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
