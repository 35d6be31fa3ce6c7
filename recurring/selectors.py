from django.db.models import QuerySet

from recurring.models import RecurringPlan, RecurringRun


def plan_list(*, user, status: str | None = None) -> QuerySet[RecurringPlan]:
    plans = RecurringPlan.objects.filter(user=user)
    return plans.filter(status=status) if status else plans


def run_list(*, plan: RecurringPlan) -> QuerySet[RecurringRun]:
    return plan.runs.select_related("order")


def next_runs(*, user, limit: int = 5) -> list[RecurringPlan]:
    """Active plans by their next run: what Home shows."""
    return list(plan_list(user=user, status=RecurringPlan.Status.ACTIVE).order_by("next_run_at")[:limit])
