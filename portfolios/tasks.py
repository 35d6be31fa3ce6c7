from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from portfolios import services
from portfolios.bank_rail import BankRailRefused, BankRailUnavailable, bank_rail


@shared_task(bind=True, acks_late=True, max_retries=10)
def settle_transfer(self, transfer_id: str) -> None:
    """Hand the transfer to the bank rail. The simulated rail settles at once; Plaid settles
    (or returns) later through its transfer events (`sync_plaid_transfer_events`)."""
    rail = bank_rail()
    try:
        services.transfer_submit(transfer_id=transfer_id)
    except BankRailRefused as refusal:
        services.transfer_reject(transfer_id=transfer_id, reason=refusal.reason)
        refusal.after_rejection()
        return
    except BankRailUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
    if rail.settles_at_once:
        services.transfer_settle(transfer_id=transfer_id)


@shared_task
def sync_plaid_transfer_events() -> int:
    """Apply Plaid Transfer events after the stored cursor (beat, and on TRANSFER_EVENTS_UPDATE)."""
    from portfolios.plaid_events import transfer_events_sync

    return transfer_events_sync()


@shared_task
def recover_transfers() -> int:
    """The sweep for lost settlement messages (beat): open transfers past their due time are queued again."""
    return services.transfers_recover(now=timezone.now())


@worker_ready.connect
def _recover_transfers_at_worker_start(**kwargs) -> None:
    """A worker starting after an outage settles what the outage left behind at once, not at the next beat."""
    recover_transfers.delay()


@shared_task
def take_equity_snapshots() -> int:
    """Intraday equity curve point for every open account (beat, every EQUITY_SNAPSHOT_INTERVAL_SECONDS)."""
    return services.equity_snapshots_take(at=services.snapshot_slot(timezone.now()))


@shared_task
def take_session_close_snapshots() -> int:
    """Close snapshots once per session, after its (possibly early) close; idempotent."""
    return services.session_close_snapshots_take(at=timezone.now())
