"""Beat jobs issuing account documents (Celery beat in services mode, speedtrade.periodic when embedded).

Each issues only what is missing, so a repeated or late run is harmless (CELERY_BEAT_SCHEDULE says when)."""

from celery import shared_task

from documents import services


@shared_task
def issue_trade_confirmations() -> int:
    return services.trade_confirmations_issue_due()


@shared_task
def issue_monthly_statements() -> int:
    return services.monthly_statements_due()


@shared_task
def issue_year_end_reports() -> int:
    return services.year_end_reports_due()
