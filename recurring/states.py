"""The recurring plan state machine: one transition table and the one function that moves a plan.

```
active ──► paused ──► active        (resume: the next run is computed from today)
  │  │        │
  │  │        └──► canceled
  │  └──► completed                 (end date passed or the number of runs reached)
  └──► canceled
Terminal: canceled, completed.
```
"""

from datetime import datetime

from django.db import transaction

from recurring.models import RecurringPlan, RecurringPlanEvent
from speedtrade.errors import IllegalTransition

S = RecurringPlan.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.ACTIVE, S.PAUSED, S.CANCELED, S.COMPLETED}),  # active → active: an edit or a run
    S.PAUSED: frozenset({S.PAUSED, S.ACTIVE, S.CANCELED}),
    S.CANCELED: frozenset(),
    S.COMPLETED: frozenset(),
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS[from_status]


def plan_transition(
    *, plan: RecurringPlan, to_status: str, event: str, now: datetime, detail: dict | None = None, changed_fields=()
) -> RecurringPlanEvent:
    """Move `plan` (a row the caller has locked) to `to_status` and record the event, in one transaction."""
    if not can_transition(plan.status, to_status):
        raise IllegalTransition(plan, to_status)
    from_status = plan.status
    plan.status, plan.updated_at = to_status, now
    with transaction.atomic(savepoint=False):
        plan.save(update_fields=sorted({"status", "updated_at", *changed_fields}))
        return RecurringPlanEvent.objects.create(
            plan=plan, event=event, from_status=from_status, to_status=to_status, detail=detail or {}, created_at=now
        )
