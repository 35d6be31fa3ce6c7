"""Plaid's transfer events applied to our transfers (settled, failed, returned), in order.

Apart from `portfolios.plaid` because they call the transfer services, which submit through
the Plaid rail: the beat and webhook tasks import this, the rail does not.
"""

import logging

import plaid
from django.db import transaction
from plaid.model.transfer_event_sync_request import TransferEventSyncRequest

from portfolios import plaid as plaid_rail
from portfolios import services
from portfolios.models import BankRailCursor, PlaidTransfer

logger = logging.getLogger(__name__)

TRANSFER_EVENTS_CURSOR = "plaid_transfer_events"


def transfer_events_sync(*, page_size: int = 25) -> int:
    """Apply Plaid's transfer events after our cursor, in order. Each event and the cursor move
    commit together, so a crash or a concurrent run applies nothing twice. Rate limits and
    outages stop the run (the next beat resumes from the cursor). Returns events applied."""
    client = plaid_rail.plaid_client()
    BankRailCursor.objects.get_or_create(name=TRANSFER_EVENTS_CURSOR)
    applied = 0
    while True:
        after_id = BankRailCursor.objects.get(name=TRANSFER_EVENTS_CURSOR).position
        try:
            response = client.transfer_event_sync(TransferEventSyncRequest(after_id=after_id, count=page_size))
        except plaid.ApiException as exc:
            if not plaid_rail.is_retryable(exc):
                raise
            logger.warning("Plaid transfer event sync paused at %s: HTTP %s", after_id, exc.status)
            return applied
        for event in response.transfer_events:
            applied += _transfer_event_apply(event)
        if not response.has_more or not response.transfer_events:
            return applied


@transaction.atomic
def _transfer_event_apply(event) -> int:
    cursor = BankRailCursor.objects.select_for_update().get(name=TRANSFER_EVENTS_CURSOR)
    if event.event_id <= cursor.position:
        return 0
    cursor.position = event.event_id
    cursor.save(update_fields=["position", "updated_at"])
    plaid_transfer = PlaidTransfer.objects.filter(plaid_transfer_id=event.transfer_id).first()
    if plaid_transfer is None:
        logger.info("Plaid transfer event %s for a transfer we do not know (%s)", event.event_id, event.transfer_id)
        return 1
    event_type = str(event.event_type)
    failure = event.get("failure_reason")
    reason = (failure.get("description") if failure else None) or event_type
    transfer_id = plaid_transfer.transfer_id
    if event_type == "settled":
        services.transfer_settle(transfer_id=transfer_id)
    elif event_type in ("failed", "cancelled"):
        services.transfer_reject(transfer_id=transfer_id, reason=f"Bank transfer {event_type}: {reason}")
    elif event_type == "returned":
        code = (failure.get("ach_return_code") if failure else None) or ""
        plaid_transfer.return_code = code[:8]
        services.transfer_return(transfer_id=transfer_id, reason=f"ACH return {code}: {reason}".strip())
    plaid_transfer.last_event_id = event.event_id
    plaid_transfer.save(update_fields=["last_event_id", "return_code"])
    return 1
