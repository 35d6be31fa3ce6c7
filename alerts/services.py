"""The only writers of price alerts. The feed's alert book (alerts/book.py) fires them through `alert_fire`."""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, DateTimeField, DecimalField, F, Q, Value, When
from django.utils import timezone

from accounts.models import User
from alerts.models import PriceAlert, describe
from marketdata.models import Asset
from marketdata.selectors import asset_get
from speedtrade.errors import DomainError, NotFound, full_clean

S = PriceAlert.Status


def _asset(symbol: str) -> Asset:
    try:
        asset = asset_get(symbol_or_id=symbol)
    except Asset.DoesNotExist:
        raise DomainError(f"Unknown symbol {symbol!r}.", code="asset_not_found", field="symbol") from None
    if asset.status != Asset.Status.ACTIVE:
        raise DomainError(f"{asset.symbol} is not active.", code="asset_not_active", field="symbol")
    return asset


def _check(alert: PriceAlert) -> None:
    if alert.value <= 0:
        raise DomainError("The value must be positive.", code="invalid_value", field="value")
    if alert.is_percent and alert.value >= 1000:
        raise DomainError("A percentage move must be below 1000 %.", code="invalid_value", field="value")
    if alert.cooldown_seconds < 60:
        raise DomainError("The cool-down is at least 60 seconds.", code="invalid_cooldown", field="cooldown_seconds")


def _require_room(user: User) -> None:
    # The user's row is locked so two concurrent creations cannot both see 49.
    User.objects.select_for_update().filter(pk=user.pk).first()
    active = PriceAlert.objects.filter(user=user, status=S.ACTIVE).count()
    if active >= settings.ALERTS_MAX_ACTIVE_PER_USER:
        raise DomainError(
            f"At most {settings.ALERTS_MAX_ACTIVE_PER_USER} active alerts: cancel one first.",
            code="alert_limit_reached",
        )


def alert_create(
    *,
    user: User,
    symbol: str,
    condition: str,
    value: Decimal,
    repeat: bool = False,
    cooldown_seconds: int = 3600,
    now: datetime | None = None,
) -> PriceAlert:
    now = now or timezone.now()
    asset = _asset(symbol)
    alert = PriceAlert(
        user=user,
        symbol=asset.symbol,
        condition=condition,
        value=value,
        repeat=repeat,
        cooldown_seconds=cooldown_seconds,
        created_at=now,
        updated_at=now,
    )
    _check(alert)
    with transaction.atomic():
        _require_room(user)
        full_clean(alert)
        alert.save(force_insert=True)
    return alert


def alert_update(*, user: User, alert_id, now: datetime | None = None, **changes) -> PriceAlert:
    """Change an alert's condition, value, repeat or cool-down; a triggered one becomes active again."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(user=user, alert_id=alert_id)
        if alert.status == S.CANCELED:
            raise DomainError("The alert is canceled.", code="alert_canceled")
        if alert.status == S.TRIGGERED:
            _require_room(user)
        for field, value in changes.items():
            if field not in ("condition", "value", "repeat", "cooldown_seconds"):
                raise DomainError(f"{field} cannot be changed.", code="not_editable", field=field)
            setattr(alert, field, value)
        _check(alert)
        alert.status, alert.rearm_at, alert.updated_at = S.ACTIVE, None, now
        full_clean(alert)
        alert.save()
    return alert


def alert_cancel(*, user: User, alert_id, now: datetime | None = None) -> PriceAlert:
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(user=user, alert_id=alert_id)
        if alert.status != S.CANCELED:
            alert.status, alert.updated_at = S.CANCELED, now
            alert.save(update_fields=["status", "updated_at"])
    return alert


def _locked(*, user: User, alert_id) -> PriceAlert:
    try:
        return PriceAlert.objects.select_for_update().get(pk=alert_id, user=user)
    except (PriceAlert.DoesNotExist, ValueError):
        raise NotFound("No such alert.") from None


def price_text(price: Decimal) -> str:
    return f"${price:,.2f}" if price >= 1 else f"${price.normalize():f}"


def alerts_fire(firings: list[tuple], *, now: datetime) -> dict:
    """Record that armed alerts (`alerts.book.Armed`) fired, each at its price, and notify their owners: a tick
    batch's firings in one transaction of a fixed number of statements, whatever their number.

    `firings` are (armed, price) pairs, an alert at most once. Returns {alert id: its wake-up time (None for a
    one-shot alert)} for those that fired; an alert missing from it was not armed any more. One conditional
    UPDATE is the check: each alert must still be active, unchanged since the book armed it (`updated_at`) and
    awake — so two feed processes, or a book that missed an edit, fire it once. The firing is not an edit:
    `updated_at` stays, the book does not read it back.
    """
    from notifications.services import Event, notifications_record

    if not firings:
        return {}
    rearm_at = {
        armed.id: now + timedelta(seconds=armed.cooldown_seconds) if armed.repeat else None for armed, _ in firings
    }
    armed_as_read = Q()
    for armed, _ in firings:
        armed_as_read |= Q(pk=armed.id, updated_at=armed.updated_at)

    def per_alert(values: dict, output_field) -> Case | None:
        # NULLs are the CASE's default: a literal NULL in a THEN would be untyped text to PostgreSQL.
        whens = [
            When(pk=pk, then=Value(value, output_field=output_field))
            for pk, value in values.items()
            if value is not None
        ]
        return Case(*whens, output_field=output_field) if whens else None

    with transaction.atomic():
        updated = PriceAlert.objects.filter(
            armed_as_read, Q(rearm_at__isnull=True) | Q(rearm_at__lte=now), status=S.ACTIVE
        ).update(
            trigger_count=F("trigger_count") + 1,
            last_triggered_at=now,
            last_triggered_price=per_alert({armed.id: price for armed, price in firings}, DecimalField()),
            rearm_at=per_alert(rearm_at, DateTimeField()),
            status=per_alert(
                {armed.id: S.ACTIVE if armed.repeat else S.TRIGGERED for armed, _ in firings}, CharField()
            ),
        )
        fired: Collection[uuid.UUID]
        if updated == len(firings):
            fired = rearm_at.keys()
        else:  # some were not armed any more (rare: another book fired them, or an edit raced the batch)
            fired = set(
                PriceAlert.objects.filter(pk__in=rearm_at.keys(), last_triggered_at=now).values_list("pk", flat=True)
            )
        notifications_record(
            [
                Event(
                    user_id=armed.user_id,
                    kind="alert_triggered",
                    event_key=f"alert:{armed.id}:{now.isoformat()}",
                    context={
                        "symbol": armed.symbol,
                        "price": price_text(price),
                        "condition": describe(armed.condition, armed.value),
                    },
                )
                for armed, price in firings
                if armed.id in fired
            ],
            now=now,
        )
    return {pk: rearm_at[pk] for pk in fired}
