from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from portfolios import services


@shared_task(acks_late=True)
def settle_transfer(transfer_id: str) -> None:
    """The simulated bank rail: submit, then settle at once (a real rail settles from its webhook)."""
    services.transfer_submit(transfer_id=transfer_id)
    services.transfer_settle(transfer_id=transfer_id)


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
