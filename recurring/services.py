"""The only writers of recurring plans and runs. A run places its order through trading's `order_place`."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketdata.models import Asset
from marketdata.selectors import asset_get
from portfolios.selectors import primary_account
from recurring import schedule
from recurring.models import RecurringPlan, RecurringRun
from recurring.states import plan_transition
from speedtrade.errors import DomainError, NotFound, full_clean
from speedtrade.money import ONE_DOLLAR, has_at_most_cents

S = RecurringPlan.Status
EDITABLE = ("amount", "frequency", "weekday", "day_of_month", "time_of_day", "end_date", "max_runs")
MAX_ATTEMPTS = 5  # a run whose placement keeps failing unexpectedly (not a refusal) is skipped after this


def today_et(now: datetime) -> date:
    return now.astimezone(schedule.ET).date()


# --- schedule bookkeeping -------------------------------------------------------------


def _schedule_next(plan: RecurringPlan, *, after: date | None) -> bool:
    """Point the plan at its first scheduled date after `after`; False when the plan has no more runs."""
    if plan.max_runs is not None and plan.runs_scheduled >= plan.max_runs:
        return False
    scheduled = schedule.next_scheduled(
        frequency=plan.frequency,
        start=plan.start_date,
        after=after,
        crypto=plan.is_crypto,
        weekday=plan.weekday,
        day_of_month=plan.day_of_month,
    )
    if plan.end_date is not None and scheduled > plan.end_date:
        plan.next_scheduled_date = plan.next_run_date = plan.next_run_at = None
        return False
    run_date = schedule.run_date_for(scheduled, crypto=plan.is_crypto)
    plan.next_scheduled_date, plan.next_run_date = scheduled, run_date
    plan.next_run_at = schedule.run_at(run_date, crypto=plan.is_crypto, time_of_day=plan.time_of_day)
    return True


NEXT_FIELDS = ("next_scheduled_date", "next_run_date", "next_run_at")


def _check_shape(plan: RecurringPlan) -> None:
    if plan.amount < ONE_DOLLAR or not has_at_most_cents(plan.amount):
        raise DomainError("The amount is at least $1.00, in cents.", code="invalid_amount", field="amount")
    if plan.frequency in (schedule.WEEKLY, schedule.BIWEEKLY):
        if plan.weekday is None or not 0 <= plan.weekday <= 6:
            raise DomainError("Weekly plans need a weekday (0 = Monday).", code="missing_field", field="weekday")
        plan.day_of_month = None
    elif plan.frequency == schedule.MONTHLY:
        if plan.day_of_month is None or not 1 <= plan.day_of_month <= 31:
            raise DomainError(
                "Monthly plans need a day of the month (1–31).", code="missing_field", field="day_of_month"
            )
        plan.weekday = None
    else:
        plan.weekday = plan.day_of_month = None
    if plan.end_date is not None and plan.end_date < plan.start_date:
        raise DomainError("The end date is before the start date.", code="invalid_end_date", field="end_date")
    if plan.max_runs is not None and plan.max_runs < 1:
        raise DomainError("The number of runs is at least 1.", code="invalid_max_runs", field="max_runs")


def _asset(symbol: str) -> Asset:
    try:
        asset = asset_get(symbol_or_id=symbol)
    except Asset.DoesNotExist:
        raise DomainError(f"Unknown symbol {symbol!r}.", code="asset_not_found", field="symbol") from None
    if asset.status != Asset.Status.ACTIVE or not asset.tradable:
        raise DomainError(f"{asset.symbol} is not tradable.", code="asset_not_tradable", field="symbol")
    if not asset.is_crypto and not asset.fractionable:
        raise DomainError(
            f"{asset.symbol} cannot be bought in dollar amounts (not fractionable).",
            code="not_fractionable",
            field="symbol",
        )
    return asset


# --- plans ----------------------------------------------------------------------------


def plan_create(
    *,
    user: User,
    symbol: str,
    amount: Decimal,
    frequency: str,
    start_date: date,
    weekday: int | None = None,
    day_of_month: int | None = None,
    time_of_day: time | None = None,
    end_date: date | None = None,
    max_runs: int | None = None,
    now: datetime | None = None,
) -> RecurringPlan:
    now = now or timezone.now()
    account = primary_account(user=user)
    if account is None:
        raise DomainError("Open an account first.", code="no_account")
    asset = _asset(symbol)
    if start_date < today_et(now):
        raise DomainError("The start date is in the past.", code="invalid_start_date", field="start_date")
    if start_date > today_et(now) + timedelta(days=366):
        # The exchange calendar reaches two years ahead: a plan starts within one.
        raise DomainError("The start date is more than a year away.", code="invalid_start_date", field="start_date")
    plan = RecurringPlan(
        user=user,
        account=account,
        symbol=asset.symbol,
        is_crypto=asset.is_crypto,
        amount=amount,
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        time_of_day=time_of_day or time(10, 0),
        start_date=start_date,
        end_date=end_date,
        max_runs=max_runs,
        created_at=now,
        updated_at=now,
    )
    _check_shape(plan)
    if not _schedule_next(plan, after=None):
        raise DomainError("No scheduled date falls before the end date.", code="no_runs_in_range", field="end_date")
    with transaction.atomic():
        full_clean(plan)
        plan.save(force_insert=True)
        plan.events.create(event="created", from_status="", to_status=plan.status, created_at=now)
    return plan


def _locked(*, user: User, plan_id) -> RecurringPlan:
    try:
        return RecurringPlan.objects.select_for_update().get(pk=plan_id, user=user)
    except (RecurringPlan.DoesNotExist, ValueError):
        raise NotFound("No such recurring investment.") from None


def _last_scheduled(plan: RecurringPlan) -> date | None:
    return plan.runs.order_by("-scheduled_date").values_list("scheduled_date", flat=True).first()


def _after_for_today(plan: RecurringPlan, now: datetime) -> date | None:
    """Runs continue after the last one placed, but never for a date already gone by."""
    yesterday = today_et(now) - timedelta(days=1)
    last = _last_scheduled(plan)
    return max(d for d in (last, yesterday) if d is not None)


def plan_update(*, user: User, plan_id, now: datetime | None = None, **changes) -> RecurringPlan:
    now = now or timezone.now()
    with transaction.atomic():
        plan = _locked(user=user, plan_id=plan_id)
        if plan.status not in (S.ACTIVE, S.PAUSED):
            raise DomainError(f"The plan is {plan.status}.", code="plan_ended")
        for field, value in changes.items():
            if field not in EDITABLE:
                raise DomainError(f"{field} cannot be changed.", code="not_editable", field=field)
            setattr(plan, field, value)
        _check_shape(plan)
        if plan.status == S.ACTIVE and not _schedule_next(plan, after=_after_for_today(plan, now)):
            raise DomainError("No scheduled date is left before the end.", code="no_runs_in_range", field="end_date")
        full_clean(plan)
        plan_transition(
            plan=plan,
            to_status=plan.status,
            event="edited",
            now=now,
            detail={k: str(v) for k, v in changes.items()},
            changed_fields=(*EDITABLE, *NEXT_FIELDS),
        )
    return plan


def _plan_stop(*, user: User, plan_id, to_status: str, event: str, now: datetime | None) -> RecurringPlan:
    """Pause or cancel: no next run until resumed (paused) or ever (canceled). Repeating it changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        plan = _locked(user=user, plan_id=plan_id)
        if plan.status == to_status:
            return plan
        _require(plan, to_status)
        plan.next_scheduled_date = plan.next_run_date = plan.next_run_at = None
        plan_transition(plan=plan, to_status=to_status, event=event, now=now, changed_fields=NEXT_FIELDS)
    return plan


def plan_pause(*, user: User, plan_id, now: datetime | None = None) -> RecurringPlan:
    return _plan_stop(user=user, plan_id=plan_id, to_status=S.PAUSED, event="paused", now=now)


def plan_cancel(*, user: User, plan_id, now: datetime | None = None) -> RecurringPlan:
    return _plan_stop(user=user, plan_id=plan_id, to_status=S.CANCELED, event="canceled", now=now)


def plan_resume(*, user: User, plan_id, now: datetime | None = None) -> RecurringPlan:
    """Back to active; dates missed while paused are not made up. A plan with no date left stays paused."""
    now = now or timezone.now()
    with transaction.atomic():
        plan = _locked(user=user, plan_id=plan_id)
        if plan.status == S.ACTIVE:
            return plan
        _require(plan, S.ACTIVE)
        if not _schedule_next(plan, after=_after_for_today(plan, now)):
            raise DomainError("The plan has no scheduled dates left: cancel it.", code="no_runs_in_range")
        plan_transition(plan=plan, to_status=S.ACTIVE, event="resumed", now=now, changed_fields=NEXT_FIELDS)
    return plan


def _require(plan: RecurringPlan, to_status: str) -> None:
    from recurring.states import can_transition

    if not can_transition(plan.status, to_status):
        raise DomainError(f"The plan is {plan.status}.", code="plan_ended")


# --- runs -----------------------------------------------------------------------------


def client_order_id_for(plan: RecurringPlan, scheduled: date) -> str:
    """The run's order id at the venue and in order entry: the same for every attempt of one scheduled date."""
    return f"recurring-{plan.pk.hex}-{scheduled:%Y%m%d}"


def plan_run_claim(*, plan_id, now: datetime) -> RecurringRun | None:
    """Claim the plan's due scheduled date: insert its run row and move the plan to its next date.

    One transaction with the plan row locked: a second worker (the beat job running twice) finds the plan
    already moved on and claims nothing; the unique (plan, scheduled date) holds even if it did not.
    """
    with transaction.atomic():
        plan = (
            RecurringPlan.objects.select_for_update().filter(pk=plan_id, status=S.ACTIVE, next_run_at__lte=now).first()
        )
        if plan is None:
            return None
        scheduled = plan.next_scheduled_date
        assert scheduled is not None, "an active plan has its next date"
        run, _ = RecurringRun.objects.get_or_create(
            plan=plan,
            scheduled_date=scheduled,
            defaults={
                "run_date": plan.next_run_date,
                "client_order_id": client_order_id_for(plan, scheduled),
                "created_at": now,
            },
        )
        plan.runs_scheduled += 1
        if _schedule_next(plan, after=scheduled):
            plan.updated_at = now
            plan.save(update_fields=["runs_scheduled", "updated_at", *NEXT_FIELDS])
        else:
            plan.next_scheduled_date = plan.next_run_date = plan.next_run_at = None
            plan_transition(
                plan=plan,
                to_status=S.COMPLETED,
                event="completed",
                now=now,
                changed_fields=("runs_scheduled", *NEXT_FIELDS),
            )
    return run


def run_execute(*, run_id, now: datetime) -> RecurringRun:
    """Place a claimed run's order, or skip it with the reason. Safe to repeat: the client order id makes
    `order_place` return the order an earlier, interrupted attempt placed, so a run buys once at most."""
    from trading.risk import OrderRequest
    from trading.services import order_place

    run = RecurringRun.objects.select_related("plan__account").get(pk=run_id)
    if run.status != RecurringRun.Status.PENDING:
        return run
    RecurringRun.objects.filter(pk=run.pk).update(attempts=run.attempts + 1)
    plan = run.plan
    deadline = schedule.run_deadline(run.run_date, crypto=plan.is_crypto, time_of_day=plan.time_of_day)
    existing = plan.account.orders.filter(client_order_id=run.client_order_id).first()
    if existing is None and now >= deadline:
        return _run_finish(run, skip=("missed", "The run's time passed before it could be placed."), now=now)
    request = OrderRequest(
        symbol=plan.symbol,
        side="buy",
        type="market",
        time_in_force="gtc" if plan.is_crypto else "day",
        notional=plan.amount,
        client_order_id=run.client_order_id,
    )
    try:
        order, _ = order_place(account=plan.account, request=request, now=now)
    except DomainError as refusal:
        # Insufficient buying power, a halted asset, a restricted account…: skipped, never retried.
        return _run_finish(run, skip=(refusal.code, refusal.message), now=now)
    return _run_finish(run, order=order, now=now)


def _run_finish(run: RecurringRun, *, now: datetime, order=None, skip: tuple[str, str] | None = None) -> RecurringRun:
    from notifications.services import notification_record

    with transaction.atomic():
        pending = RecurringRun.objects.filter(pk=run.pk, status=RecurringRun.Status.PENDING)
        if order is not None:
            changed = pending.update(status=RecurringRun.Status.PLACED, order=order, finished_at=now)
        else:
            assert skip is not None, "a run ends placed or skipped"
            code, reason = skip
            changed = pending.update(
                status=RecurringRun.Status.SKIPPED, skip_code=code[:40], skip_reason=reason[:255], finished_at=now
            )
        run.refresh_from_db()
        if changed:
            plan = run.plan
            context = {"symbol": plan.symbol, "amount": f"${plan.amount:,.2f}", "order_id": run.order_id or ""}
            if order is not None:
                kind = "recurring_run_done"
            else:
                kind, context["reason"] = "recurring_run_skipped", run.skip_reason
            notification_record(
                user_id=plan.user_id, kind=kind, event_key=f"recurring:{run.pk}", context=context, now=now
            )
    return run


def run_give_up(*, run_id, now: datetime) -> RecurringRun:
    """A run whose placement failed MAX_ATTEMPTS times for no business reason: the order if one exists, else skipped."""
    run = RecurringRun.objects.select_related("plan__account").get(pk=run_id)
    order = run.plan.account.orders.filter(client_order_id=run.client_order_id).first()
    if order is not None:
        return _run_finish(run, order=order, now=now)
    return _run_finish(run, skip=("failed", "The run could not be placed; no order was sent."), now=now)
