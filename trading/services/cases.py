"""Reconciliation cases: a disagreement with a venue, opened by reconciliation and resolved by compliance."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_event_record
from speedtrade.errors import DomainError
from trading.models import Order, ReconciliationCase


def reconciliation_case_open(
    *, venue: str, kind: str, client_order_id: str, order: Order | None = None, details: dict
) -> ReconciliationCase | None:
    """Record a disagreement with a venue (audited). None when the same case is already open."""
    with transaction.atomic():
        if ReconciliationCase.objects.filter(
            venue=venue, kind=kind, client_order_id=client_order_id, status=ReconciliationCase.Status.OPEN
        ).exists():
            return None
        case = ReconciliationCase.objects.create(
            venue=venue, kind=kind, client_order_id=client_order_id, order=order, details=details
        )
        audit_event_record(
            action="trading.reconciliation_case_opened",
            target=case,
            subject_user=order.account.user if order is not None else None,
            after={"venue": venue, "kind": kind, "client_order_id": client_order_id, **details},
        )
    return case


def reconciliation_case_resolve(*, case_id: int, staff, resolution: str, request=None, now: datetime | None = None):
    """Compliance closes a case after investigating it (audited). The venue's halt lifts at the next
    reconciliation run once it has no open case left."""
    now = now or timezone.now()
    if not resolution.strip():
        raise DomainError("Say how the case was resolved.", code="resolution_required", field="resolution")
    with transaction.atomic():
        case = ReconciliationCase.objects.select_for_update().get(pk=case_id)
        if case.status != ReconciliationCase.Status.OPEN:
            raise DomainError("The case is already resolved.", code="already_resolved")
        case.status = ReconciliationCase.Status.RESOLVED
        case.resolved_at, case.resolved_by, case.resolution = now, staff, resolution.strip()
        case.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
        audit_event_record(
            action="trading.reconciliation_case_resolved",
            actor=staff,
            target=case,
            before={"status": ReconciliationCase.Status.OPEN},
            after={"status": case.status, "resolution": case.resolution},
            request=request,
        )
    return case
