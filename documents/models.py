"""Account documents a regulated broker owes its customers (issue 19): trade confirmations (SEC Rule 10b-10),
monthly statements (FINRA Rule 2231), year-end realized gains reports (Form 1099-B shaped, PDF and CSV).

A document is immutable once issued: its file is written once to private storage (`STORAGES["documents"]`)
and the row keeps the file's SHA-256, checked on every download. Nothing regenerates a document in place:
a correction is a new document that names the one it corrects, issued by two staff members
(`DocumentCorrection`). Rows are never updated or deleted (a PostgreSQL trigger refuses both, migration
0002) and are kept at least six years (SEC Rule 17a-4(b)(4); docs/notes/documents.md).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.storage import account_document_storage


class DocumentKind(models.TextChoices):
    TRADE_CONFIRMATION = "trade_confirmation", "Trade confirmation"
    MONTHLY_STATEMENT = "monthly_statement", "Monthly statement"
    YEAR_END_GAINS = "year_end_gains", "Year-end realized gains (PDF)"
    YEAR_END_GAINS_CSV = "year_end_gains_csv", "Year-end realized gains (CSV)"


PERIOD_KINDS = (DocumentKind.MONTHLY_STATEMENT, DocumentKind.YEAR_END_GAINS, DocumentKind.YEAR_END_GAINS_CSV)


class AccountDocument(models.Model):
    """One issued document: its file, the file's digest and the figures behind it (decimal strings)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("portfolios.Account", on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=24, choices=DocumentKind.choices)
    # Statements and year-end reports cover [period_start, period_end] (New York dates); a confirmation covers
    # its order's fills of one trade date (an order filling over several days gets one per day).
    period_start = models.DateField()
    period_end = models.DateField()
    order = models.ForeignKey("trading.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    file = models.FileField(storage=account_document_storage, max_length=300)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Hex SHA-256 of the file as issued; checked on every download.")
    data = models.JSONField(help_text="The figures behind the file, money and quantities as decimal strings.")
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        help_text="The document this one corrects.",
    )

    class Meta:
        ordering = ["-issued_at", "kind"]
        permissions = [("download_accountdocument", "Can download a customer's document file (audited)")]
        indexes = [models.Index(fields=["account", "kind", "period_start"])]
        constraints = [
            # Originals: one per order and trade date (confirmations) or per period (statements, reports).
            # Corrections name the document they correct, and each document is corrected at most once (the
            # newest correction stands).
            models.UniqueConstraint(
                fields=["account", "kind", "order", "period_start"],
                condition=Q(corrects__isnull=True, kind="trade_confirmation"),
                name="document_one_confirmation_per_order",
            ),
            models.UniqueConstraint(
                fields=["account", "kind", "period_start", "period_end"],
                condition=Q(corrects__isnull=True) & ~Q(kind="trade_confirmation"),
                name="document_one_original_per_period",
            ),
            models.UniqueConstraint(fields=["corrects"], name="document_corrected_once"),
            models.CheckConstraint(
                condition=Q(kind="trade_confirmation", order__isnull=False)
                | (~Q(kind="trade_confirmation") & Q(order__isnull=True)),
                name="document_confirmation_names_its_order",
            ),
            models.CheckConstraint(condition=Q(period_start__lte=F("period_end")), name="document_period_ordered"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="document_sha256_hex"),
            models.CheckConstraint(condition=~Q(corrects=F("id")), name="document_not_its_own_correction"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def filename(self) -> str:
        extension = ".csv" if self.content_type.startswith("text/csv") else ".pdf"
        return f"speedtrade-{self.kind.replace('_', '-')}-{self.period_start:%Y-%m-%d}-{str(self.pk)[:8]}{extension}"


class DocumentCorrection(models.Model):
    """Re-issuing a document as a correction: one staff member requests it with a reason, a different one approves
    (the new document is issued then) or rejects it. Both steps are audited (`documents.services`)."""

    class Status(models.TextChoices):
        REQUESTED = "requested"
        APPROVED = "approved"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(AccountDocument, on_delete=models.PROTECT, related_name="correction_requests")
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued = models.OneToOneField(
        AccountDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="issued_by_correction"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("approve_documentcorrection", "Can approve or reject a document correction")]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="document_correction_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(status="approved", issued__isnull=False) | (~Q(status="approved") & Q(issued__isnull=True)),
                name="document_correction_issued_iff_approved",
            ),
            # One open request per document at a time.
            models.UniqueConstraint(
                fields=["document"], condition=Q(status="requested"), name="document_one_open_correction"
            ),
        ]

    def __str__(self) -> str:
        return f"Correction of {self.document} ({self.status})"
