"""Recurring runs: a beat job every minute (Celery beat in services mode, speedtrade.periodic when embedded)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from recurring import services
from recurring.models import RecurringPlan, RecurringRun

STUCK_AFTER = timedelta(minutes=2)  # a pending run this old lost its worker: execute it again
CATCH_UP = 10  # scheduled dates one plan may work through in one go (after an outage)


@shared_task
def recurring_runs_due() -> int:
    """Queue every plan whose next run is due, and every run a dead worker left pending."""
    now = timezone.now()
    due = list(
        RecurringPlan.objects.filter(status=RecurringPlan.Status.ACTIVE, next_run_at__lte=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    for plan_id in due:
        recurring_plan_run.delay(str(plan_id))
    stuck = RecurringRun.objects.filter(status=RecurringRun.Status.PENDING, created_at__lte=now - STUCK_AFTER)
    for run_id, attempts in stuck.values_list("pk", "attempts")[:1000]:
        if attempts >= services.MAX_ATTEMPTS:
            services.run_give_up(run_id=run_id, now=now)
        else:
            recurring_run_execute.delay(run_id)
    return len(due)


@shared_task(acks_late=True)
def recurring_plan_run(plan_id: str) -> None:
    for _ in range(CATCH_UP):
        now = timezone.now()
        run = services.plan_run_claim(plan_id=plan_id, now=now)
        if run is None:
            return
        services.run_execute(run_id=run.pk, now=now)


@shared_task(acks_late=True)
def recurring_run_execute(run_id: int) -> None:
    services.run_execute(run_id=run_id, now=timezone.now())
