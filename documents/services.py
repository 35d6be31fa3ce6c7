"""The only writers of account documents: issuing (confirmations, statements, year-end reports), corrections
(two staff members), and the audited, digest-checked read of a document's file.

Issuing is idempotent: an original that exists is returned, never made again. The figures are read and the
file rendered outside any transaction (WeasyPrint takes a while; no row lock waits on it); the file is written
to private storage first, then the row with its SHA-256 and the audit event are inserted in one transaction.
A crash in between leaves at most a file no row names — never a row without its file. A concurrent issue of
the same original loses on the unique constraint, removes its own file and returns the winner's document.
The audit event `document.issued` is also what tells the customer (notifications' subscriber, after commit).
"""

import hashlib
import logging
import uuid
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_event_record
from accounts.models import User
from accounts.storage import account_document_storage
from documents import selectors
from documents.models import AccountDocument, DocumentCorrection, DocumentKind
from documents.rendering import CSV, PDF, gains_csv, pdf_from_template
from marketdata.calendars import ET, equity_sessions
from portfolios.models import Account
from speedtrade.errors import Conflict, DomainError, InvalidInput, Unavailable, full_clean
from speedtrade.four_eyes import require_not_own_record, require_permission, require_second_person
from trading.models import Order

logger = logging.getLogger(__name__)

PDF_TEMPLATES = {
    DocumentKind.TRADE_CONFIRMATION: "documents/pdf/trade_confirmation.html",
    DocumentKind.MONTHLY_STATEMENT: "documents/pdf/monthly_statement.html",
    DocumentKind.YEAR_END_GAINS: "documents/pdf/year_end_gains.html",
}


@dataclass(frozen=True)
class Draft:
    """A document about to be issued: what it is, and its figures."""

    account: Account
    kind: str
    period_start: date
    period_end: date
    title: str
    figures: dict
    order: Order | None = None


def _originals(draft: Draft):
    originals = AccountDocument.objects.filter(
        account=draft.account, kind=draft.kind, corrects__isnull=True, period_start=draft.period_start
    )
    if draft.order is not None:
        return originals.filter(order=draft.order)
    return originals.filter(period_end=draft.period_end)


def _rendered(draft: Draft, *, document_id: uuid.UUID, issued_at: datetime, corrects=None, reason="") -> bytes:
    if draft.kind == DocumentKind.YEAR_END_GAINS_CSV:
        return gains_csv(draft.figures)
    context = {
        "data": draft.figures,
        "title": draft.title,
        "document_id": document_id,
        "issued_at": issued_at,
        "corrects": corrects,
        "correction_reason": reason,
    }
    return pdf_from_template(PDF_TEMPLATES[DocumentKind(draft.kind)], context)


def _file_written(draft: Draft, *, document_id: uuid.UUID, content: bytes) -> str:
    extension = ".csv" if draft.kind == DocumentKind.YEAR_END_GAINS_CSV else ".pdf"
    name = f"{draft.account.account_number}/{draft.period_start:%Y}/{draft.kind}-{document_id}{extension}"
    return account_document_storage.save(name, ContentFile(content))


def _issued(
    draft: Draft,
    *,
    actor: User | None = None,
    request=None,
    now: datetime | None = None,
    corrects: AccountDocument | None = None,
    reason: str = "",
    in_transaction=None,
) -> tuple[AccountDocument, bool]:
    """Render, write the file, then insert the row and its audit event (and `in_transaction(document)`, for a
    correction's own changes) in one transaction. Returns (document, created)."""
    if corrects is None and (existing := _originals(draft).first()) is not None:
        return existing, False
    now = now or timezone.now()
    document_id = uuid.uuid4()
    content = _rendered(draft, document_id=document_id, issued_at=now, corrects=corrects, reason=reason)
    name = _file_written(draft, document_id=document_id, content=content)
    document = AccountDocument(
        id=document_id,
        account=draft.account,
        kind=draft.kind,
        period_start=draft.period_start,
        period_end=draft.period_end,
        order=draft.order,
        title=draft.title[:200],
        issued_at=now,
        file=name,
        content_type=CSV if draft.kind == DocumentKind.YEAR_END_GAINS_CSV else PDF,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        data=draft.figures,
        corrects=corrects,
    )
    try:
        with transaction.atomic():
            full_clean(document)
            document.save(force_insert=True)
            audit_event_record(
                action="document.issued",
                actor=actor,
                target=document,
                subject_user=draft.account.user,
                after={
                    "kind": document.kind,
                    "title": document.title,
                    "period_start": document.period_start.isoformat(),
                    "period_end": document.period_end.isoformat(),
                    "sha256": document.sha256,
                    "corrects": str(corrects.pk) if corrects is not None else None,
                },
                request=request,
            )
            if in_transaction is not None:
                in_transaction(document)
    except (IntegrityError, InvalidInput):
        account_document_storage.delete(name)  # no row names it
        existing = _originals(draft).first() if corrects is None else None
        if existing is None:
            raise
        return existing, False
    except BaseException:
        account_document_storage.delete(name)
        raise
    return document, True


# --- what each kind of document says -------------------------------------------------------


def confirmation_draft(*, order: Order, trade_date: date) -> Draft:
    figures = selectors.trade_confirmation_figures(order=order, trade_date=trade_date)
    side = "Buy" if order.side == Order.Side.BUY else "Sell"
    return Draft(
        account=order.account,
        kind=DocumentKind.TRADE_CONFIRMATION,
        period_start=trade_date,
        period_end=trade_date,
        order=order,
        title=f"Trade confirmation: {side} {figures['quantity']} {order.symbol}, {trade_date:%b %-d, %Y}",
        figures=figures,
    )


def statement_draft(*, account: Account, start: date, end: date, now: datetime | None = None) -> Draft:
    figures = selectors.monthly_statement_figures(account=account, start=start, end=end, now=now)
    to_date = " (month to date)" if figures["month_to_date"] else ""
    title = f"Monthly statement, {start:%B %Y}{to_date}"
    return Draft(account, DocumentKind.MONTHLY_STATEMENT, start, end, title, figures)


def gains_drafts(*, account: Account, year: int) -> list[Draft]:
    figures = selectors.year_end_gains_figures(account=account, year=year)
    first, last = date(year, 1, 1), date(year, 12, 31)
    return [
        Draft(account, DocumentKind.YEAR_END_GAINS, first, last, f"Realized gains {year} (PDF)", figures),
        Draft(account, DocumentKind.YEAR_END_GAINS_CSV, first, last, f"Realized gains {year} (CSV)", figures),
    ]


def _redrafted(document: AccountDocument) -> Draft:
    """The document's figures read again (a correction): same account, kind and period."""
    if document.kind == DocumentKind.TRADE_CONFIRMATION:
        assert document.order is not None  # document_confirmation_names_its_order
        return confirmation_draft(order=document.order, trade_date=document.period_start)
    if document.kind == DocumentKind.MONTHLY_STATEMENT:
        return statement_draft(account=document.account, start=document.period_start, end=document.period_end)
    pdf, csv = gains_drafts(account=document.account, year=document.period_start.year)
    return pdf if document.kind == DocumentKind.YEAR_END_GAINS else csv


# --- issuing -------------------------------------------------------------------------------


def trade_confirmation_issue(*, order: Order, trade_date: date, now: datetime | None = None) -> AccountDocument:
    return _issued(confirmation_draft(order=order, trade_date=trade_date), now=now)[0]


def trade_confirmations_issue_due(*, now: datetime | None = None) -> int:
    """Confirm every order's fills of each trade date that has ended (or whose order has): the beat job."""
    now = now or timezone.now()
    return sum(
        _each(lambda due=due: _issued(confirmation_draft(order=due.order, trade_date=due.trade_date), now=now))
        for due in selectors.confirmations_due(now=now)
    )


def _each(issue) -> int:
    """One document of a batch: a failure is logged and left to the next run, never stops the others."""
    try:
        _, created = issue()
    except Exception:  # noqa: BLE001 — the job goes on with the other accounts; the next run retries this one
        logger.exception("Issuing an account document failed; the next run retries it.")
        return 0
    return int(created)


def month_period(month: date, *, now: datetime) -> tuple[date, date]:
    """[first, last] day of `month`; the current month runs to today (a month-to-date statement)."""
    first = month.replace(day=1)
    last = first.replace(day=monthrange(first.year, first.month)[1])
    today = now.astimezone(ET).date()
    if first > today:
        raise InvalidInput({"month": "That month has not started yet."})
    return first, min(last, today)


def monthly_statement_issue(
    *, account: Account, month: date, now: datetime | None = None, actor: User | None = None, request=None
) -> AccountDocument:
    now = now or timezone.now()
    start, end = month_period(month, now=now)
    draft = statement_draft(account=account, start=start, end=end, now=now)
    return _issued(draft, actor=actor, request=request, now=now)[0]


def monthly_statements_issue(*, month: date, now: datetime | None = None) -> int:
    """A statement for every account with activity in the month or a balance at its end."""
    now = now or timezone.now()
    start, end = month_period(month, now=now)
    return sum(
        _each(lambda account=account: _issued(statement_draft(account=account, start=start, end=end, now=now), now=now))
        for account in selectors.statement_accounts(start=start, end=end, now=now)
    )


def first_business_day(month: date) -> date:
    """The month's first XNYS session."""
    first = month.replace(day=1)
    return equity_sessions(first, first + timedelta(days=10))[0].date


def monthly_statements_due(*, now: datetime | None = None) -> int:
    """The beat job: from the month's first business day on, the previous month's statements (a missed day is
    caught up the next; statements already issued are skipped)."""
    now = now or timezone.now()
    today = now.astimezone(ET).date()
    if today < first_business_day(today):
        return 0
    return monthly_statements_issue(month=(today.replace(day=1) - timedelta(days=1)).replace(day=1), now=now)


def _require_ended_tax_year(year: int, *, now: datetime) -> None:
    """A report for a year still running would stand as that year's original: refused."""
    if year >= now.astimezone(ET).year:
        raise InvalidInput({"year": "A tax year is reported once it has ended."})


def year_end_reports_issue(
    *, account: Account, year: int, now: datetime | None = None, actor: User | None = None, request=None
) -> list[AccountDocument]:
    """The tax year's realized gains report, PDF and CSV (staff on demand, and the January job)."""
    now = now or timezone.now()
    _require_ended_tax_year(year, now=now)
    return [
        _issued(draft, actor=actor, request=request, now=now)[0] for draft in gains_drafts(account=account, year=year)
    ]


def year_end_reports_issue_all(*, year: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    _require_ended_tax_year(year, now=now)
    return sum(
        _each(lambda draft=draft: _issued(draft, now=now))
        for account in selectors.gains_report_accounts(year=year)
        for draft in gains_drafts(account=account, year=year)
    )


def year_end_reports_due(*, now: datetime | None = None) -> int:
    """The January job: last year's reports, from the year's first business day."""
    now = now or timezone.now()
    today = now.astimezone(ET).date()
    if today.month != 1 or today < first_business_day(today):
        return 0
    return year_end_reports_issue_all(year=today.year - 1, now=now)


# --- corrections (two staff members) ---------------------------------------------------------


def _require_may_correct(user: User, document: AccountDocument, permission: str) -> None:
    require_permission(user, permission)
    require_not_own_record(
        user,
        owner_id=document.account.user_id,
        message="This is your own account: another Compliance officer must handle its documents.",
    )


@transaction.atomic
def document_correction_request(
    *, document: AccountDocument, reason: str, requested_by: User, request=None
) -> DocumentCorrection:
    """First person: ask for the document to be issued again, as a correction, with a reason."""
    _require_may_correct(requested_by, document, "documents.add_documentcorrection")
    if not reason.strip():
        raise DomainError("A reason is required.", code="reason_required", field="reason")
    if document.corrections.exists():
        raise Conflict("This document was already corrected: correct the newest one.", code="already_corrected")
    if document.correction_requests.filter(status=DocumentCorrection.Status.REQUESTED).exists():
        raise Conflict("A correction of this document is already waiting for approval.", code="already_requested")
    correction = DocumentCorrection(document=document, reason=reason.strip()[:500], requested_by=requested_by)
    full_clean(correction)
    correction.save()
    audit_event_record(
        action="document.correction_requested",
        actor=requested_by,
        target=correction,
        subject_user=document.account.user,
        after={"document": str(document.pk), "reason": correction.reason},
        request=request,
    )
    return correction


def _decidable(correction: DocumentCorrection, decided_by: User) -> DocumentCorrection:
    """The request, locked, if `decided_by` may decide it now."""
    correction = (
        DocumentCorrection.objects.select_for_update().select_related("document__account__user").get(pk=correction.pk)
    )
    _require_may_correct(decided_by, correction.document, "documents.approve_documentcorrection")
    if correction.status != DocumentCorrection.Status.REQUESTED:
        raise Conflict(f"This correction is already {correction.status}.", code="already_decided")
    require_second_person(
        proposed_by_id=correction.requested_by_id,
        decided_by=decided_by,
        message="A different person must approve a correction than the one who requested it.",
    )
    return correction


def document_correction_approve(
    *, correction: DocumentCorrection, approved_by: User, request=None, now: datetime | None = None
) -> DocumentCorrection:
    """Second person: the corrected document is issued (it names the one it corrects) and the request approved,
    in one transaction. The new file is rendered before it, from the figures as they are now."""
    with transaction.atomic():
        _decidable(correction, approved_by)  # refuse before rendering anything
    correction.refresh_from_db()
    original = correction.document

    def approve(document: AccountDocument) -> None:
        locked = _decidable(correction, approved_by)
        locked.status, locked.issued = DocumentCorrection.Status.APPROVED, document
        locked.decided_by, locked.decided_at = approved_by, document.issued_at
        locked.save(update_fields=["status", "issued", "decided_by", "decided_at"])
        audit_event_record(
            action="document.correction_approved",
            actor=approved_by,
            target=locked,
            subject_user=original.account.user,
            before={"status": DocumentCorrection.Status.REQUESTED, "requested_by": str(locked.requested_by_id)},
            after={"status": locked.status, "document": str(original.pk), "issued": str(document.pk)},
            request=request,
        )

    _issued(
        _redrafted(original),
        actor=approved_by,
        request=request,
        now=now,
        corrects=original,
        reason=correction.reason,
        in_transaction=approve,
    )
    correction.refresh_from_db()
    return correction


@transaction.atomic
def document_correction_reject(
    *, correction: DocumentCorrection, rejected_by: User, request=None
) -> DocumentCorrection:
    correction = _decidable(correction, rejected_by)
    correction.status = DocumentCorrection.Status.REJECTED
    correction.decided_by, correction.decided_at = rejected_by, timezone.now()
    correction.save(update_fields=["status", "decided_by", "decided_at"])
    audit_event_record(
        action="document.correction_rejected",
        actor=rejected_by,
        target=correction,
        subject_user=correction.document.account.user,
        before={"status": DocumentCorrection.Status.REQUESTED},
        after={"status": correction.status},
        request=request,
    )
    return correction


# --- reading a document's file ---------------------------------------------------------------


def document_content_verified(*, document: AccountDocument, actor: User, request=None) -> bytes:
    """The document's bytes, after checking them against the digest recorded at issue; every read is audited.

    A file that is missing or does not match its digest is never served: the refusal is audited and logged as
    an error (Sentry hears it), and the caller gets `Unavailable`."""
    try:
        with document.file.open("rb") as stored:
            content = stored.read()
    except OSError:
        content = None
    digest = hashlib.sha256(content).hexdigest() if content is not None else ""
    intact = digest == document.sha256
    with transaction.atomic():
        audit_event_record(
            action="document.downloaded" if intact else "document.integrity_failed",
            actor=actor,
            target=document,
            subject_user=document.account.user,
            after={"sha256": document.sha256} | ({} if intact else {"found": digest or "missing"}),
            request=request,
        )
    if not intact or content is None:
        logger.error(
            "Account document %s failed its integrity check (recorded %s, found %s): not served.",
            document.pk,
            document.sha256,
            digest or "no file",
        )
        raise Unavailable(
            "This document cannot be served right now. We have been alerted; please try again later.",
            code="document_unavailable",
        )
    return content
