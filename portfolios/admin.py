"""Compliance's view of the money: read-only everywhere, except the two-person decisions —
cash adjustments (one proposes with "add", another approves with the admin action) and held
bank links (one proposes on the change form, another confirms with the admin action)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from accounts.admin_export import CsvExport, CsvExportAdminMixin
from portfolios import services
from portfolios.models import (
    Account,
    BankLink,
    CashAdjustment,
    GoodFaithViolation,
    JournalEntry,
    JournalLine,
    LotClosing,
    LotSelection,
    Position,
    TaxLot,
    Transfer,
    UnsettledFundsPurchase,
)
from speedtrade.admin import ReadOnlyAdmin
from speedtrade.errors import DomainError


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "account_number",
        "user",
        "type",
        "status",
        "trading_blocked",
        "transfers_blocked",
        "account_blocked",
        "created_at",
    )
    list_filter = (
        "status",
        "type",
        "lot_method",
        "trading_blocked",
        "transfers_blocked",
        "account_blocked",
        "created_at",
    )
    search_fields = ("account_number", "user__email")


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ("ledger_account", "amount", "settles_on")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


LEDGER_EXPORT = CsvExport(
    name="ledger",
    columns=[
        ("effective_at", lambda line: line.entry.effective_at.isoformat()),
        ("entry_id", lambda line: line.entry_id),
        ("account_number", lambda line: line.entry.account.account_number),
        ("cause", lambda line: line.entry.cause_type),
        ("memo", lambda line: line.entry.memo),
        ("symbol", lambda line: line.entry.asset.symbol if line.entry.asset else ""),
        ("side", lambda line: line.entry.side),
        ("qty", lambda line: line.entry.qty),
        ("price", lambda line: line.entry.price),
        ("ledger_account", lambda line: line.ledger_account.kind),
        ("amount", lambda line: line.amount),
        ("settles_on", lambda line: line.settles_on),
    ],
    # Every ledger line touching one customer's accounts whose entry took effect in the range.
    rows=lambda user, start, end: (
        JournalLine.objects.filter(
            entry__account__user=user, entry__effective_at__gte=start, entry__effective_at__lt=end
        )
        .select_related("entry", "entry__account", "entry__asset", "ledger_account")
        .order_by("entry__effective_at", "id")
    ),
)


@admin.register(JournalEntry)
class JournalEntryAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    csv_export = LEDGER_EXPORT
    list_display = ("effective_at", "account", "cause_type", "memo", "asset", "side", "qty", "price")
    list_filter = ("cause_type", "effective_at")
    search_fields = ("account__account_number", "account__user__email", "memo", "id")
    inlines = [JournalLineInline]
    readonly_fields = (
        "id",
        "account",
        "cause_type",
        "cause_content_type",
        "cause_object_id",
        "reverses",
        "memo",
        "asset",
        "side",
        "qty",
        "price",
        "effective_at",
        "created_at",
    )


@admin.register(Transfer)
class TransferAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    list_display = ("id", "account", "direction", "amount", "status", "created_at", "settled_at")
    list_filter = ("status", "direction", "created_at")
    search_fields = ("id", "account__account_number", "account__user__email")
    csv_export = CsvExport(
        name="transfers",
        columns=[
            ("created_at", lambda t: t.created_at.isoformat()),
            ("id", lambda t: t.id),
            ("account_number", lambda t: t.account.account_number),
            ("direction", lambda t: t.direction),
            ("amount", lambda t: t.amount),
            ("status", lambda t: t.status),
            ("settled_at", lambda t: t.settled_at.isoformat() if t.settled_at else ""),
            ("rail_reference", lambda t: t.rail_reference),
        ],
        rows=lambda user, start, end: (
            Transfer.objects.filter(account__user=user, created_at__gte=start, created_at__lt=end)
            .select_related("account")
            .order_by("created_at", "id")
        ),
    )


@admin.register(Position)
class PositionAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    list_display = (
        "account",
        "asset",
        "qty",
        "reserved_qty",
        "avg_entry_price",
        "cost_basis",
        "realized_pl",
        "opened_at",
        "closed_at",
    )
    list_filter = ("asset__asset_class", "opened_at")
    search_fields = ("account__account_number", "account__user__email", "asset__symbol")
    # A position's row is its current state: the export lists those held at some time in the range
    # (opened before its end, not closed before its start); the ledger export has the history.
    csv_export = CsvExport(
        name="positions",
        columns=[
            ("account_number", lambda p: p.account.account_number),
            ("symbol", lambda p: p.asset.symbol),
            ("qty", lambda p: p.qty),
            ("avg_entry_price", lambda p: p.avg_entry_price),
            ("cost_basis", lambda p: p.cost_basis),
            ("realized_pl", lambda p: p.realized_pl),
            ("opened_at", lambda p: p.opened_at.isoformat() if p.opened_at else ""),
            ("closed_at", lambda p: p.closed_at.isoformat() if p.closed_at else ""),
        ],
        rows=lambda user, start, end: (
            Position.objects.filter(account__user=user, opened_at__lt=end)
            .exclude(closed_at__lt=start)
            .select_related("account", "asset")
            .order_by("opened_at", "id")
        ),
    )


@admin.register(TaxLot)
class TaxLotAdmin(ReadOnlyAdmin):
    list_display = (
        "acquired_at",
        "account",
        "asset",
        "qty",
        "open_qty",
        "cost",
        "wash_sale_adjustment",
        "open_basis",
        "holding_period_start",
    )
    list_filter = ("acquired_at", "asset__asset_class")
    search_fields = ("account__account_number", "account__user__email", "asset__symbol")


@admin.register(LotClosing)
class LotClosingAdmin(CsvExportAdminMixin, ReadOnlyAdmin):
    list_display = (
        "sold_at",
        "account",
        "asset",
        "qty",
        "acquired_at",
        "proceeds",
        "cost_basis",
        "gain",
        "wash_sale_disallowed",
        "term",
    )
    list_filter = ("term", "sold_at")
    search_fields = ("account__account_number", "account__user__email", "asset__symbol")
    csv_export = CsvExport(
        name="realized-gains",
        columns=[
            ("account_number", lambda c: c.account.account_number),
            ("symbol", lambda c: c.asset.symbol),
            ("qty", lambda c: c.qty),
            ("acquired_at", lambda c: c.acquired_at.isoformat()),
            ("sold_at", lambda c: c.sold_at.isoformat()),
            ("proceeds", lambda c: c.proceeds),
            ("cost_basis", lambda c: c.cost_basis),
            ("wash_sale_disallowed", lambda c: c.wash_sale_disallowed),
            ("gain", lambda c: c.reported_gain),
            ("term", lambda c: c.term),
        ],
        rows=lambda user, start, end: (
            LotClosing.objects.filter(account__user=user, sold_at__gte=start, sold_at__lt=end)
            .select_related("account", "asset")
            .order_by("sold_at", "id")
        ),
    )


@admin.register(LotSelection)
class LotSelectionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "order_ref", "lot", "qty", "open_qty")
    search_fields = ("account__account_number", "order_ref")


@admin.register(GoodFaithViolation)
class GoodFaithViolationAdmin(ReadOnlyAdmin):
    list_display = ("trade_date", "account", "asset", "qty", "funds_settle_on", "order_ref")
    list_filter = ("trade_date",)
    search_fields = ("account__account_number", "account__user__email", "asset__symbol", "order_ref")


@admin.register(UnsettledFundsPurchase)
class UnsettledFundsPurchaseAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "asset", "unsettled_amount", "qty", "open_qty", "funds_settle_on")
    list_filter = ("funds_settle_on",)
    search_fields = ("account__account_number", "account__user__email", "asset__symbol")


class CashAdjustmentForm(forms.ModelForm):
    class Meta:
        model = CashAdjustment
        fields = ["account", "amount", "reason"]


@admin.register(CashAdjustment)
class CashAdjustmentAdmin(admin.ModelAdmin):
    form = CashAdjustmentForm
    list_display = ("account", "amount", "status", "proposed_by", "decided_by", "created_at", "decided_at")
    list_filter = ("status", "created_at")
    search_fields = ("account__account_number", "account__user__email", "reason")
    actions = ["approve", "reject"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Proposing goes through the service (audit, validation); it never posts."""
        proposal = services.cash_adjustment_propose(
            account=obj.account, amount=obj.amount, reason=obj.reason, proposed_by=request.user, request=request
        )
        obj.pk = proposal.pk

    def _decide(self, request, queryset, decide, verb: str):
        for adjustment in queryset:
            try:
                decide(adjustment, request.user)
            except DomainError as refusal:
                self.message_user(request, f"{adjustment}: {refusal.message}", messages.ERROR)
            else:
                self.message_user(request, f"{adjustment}: {verb}.", messages.SUCCESS)

    @admin.action(description="Approve (posts to the ledger)", permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda adj, user: services.cash_adjustment_approve(adjustment=adj, approved_by=user, request=request),
            "approved",
        )

    @admin.action(description="Reject", permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda adj, user: services.cash_adjustment_reject(adjustment=adj, rejected_by=user, request=request),
            "rejected",
        )

    def has_approve_permission(self, request):
        return request.user.has_perm("portfolios.approve_cashadjustment")


class BankLinkReviewForm(forms.ModelForm):
    review_proposal = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], label="Propose")
    review_reason = forms.CharField(widget=forms.Textarea, label="Reason", max_length=500)

    class Meta:
        model = BankLink
        fields = ["review_proposal", "review_reason"]


@admin.register(BankLink)
class BankLinkAdmin(admin.ModelAdmin):
    """Held links (owner name does not match the KYC name): one reviewer proposes on the
    change form, a different one confirms with the list action. Both steps are audited."""

    form = BankLinkReviewForm
    list_display = (
        "account", "institution_name", "account_mask", "status", "name_match_score",
        "review_proposal", "proposed_by", "decided_by", "created_at",
    )  # fmt: skip
    list_filter = ("status", "created_at")
    search_fields = ("account__account_number", "account__user__email", "kyc_name")
    readonly_fields = (
        "account", "status", "institution_name", "account_name", "account_mask", "routing_mask",
        "owner_names", "kyc_name", "name_match_score", "proposed_by", "decided_by", "decided_at", "created_at",
    )  # fmt: skip
    actions = ["confirm"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        allowed = request.user.has_perm("portfolios.review_banklink")
        return allowed and (obj is None or obj.status == BankLink.Status.HELD)

    def has_confirm_permission(self, request):
        return request.user.has_perm("portfolios.review_banklink")

    def save_model(self, request, obj, form, change):
        from portfolios.plaid import bank_link_review_propose

        try:
            bank_link_review_propose(
                link=obj,
                decision=form.cleaned_data["review_proposal"],
                reason=form.cleaned_data["review_reason"],
                actor=request.user,
                request=request,
            )
        except DomainError as refusal:
            raise PermissionDenied(refusal.message) from refusal

    @admin.action(description="Confirm the proposed decision (a second reviewer)", permissions=["confirm"])
    def confirm(self, request, queryset):
        from portfolios.plaid import bank_link_review_confirm

        for link in queryset:
            try:
                bank_link_review_confirm(link=link, actor=request.user, request=request)
            except DomainError as refusal:
                self.message_user(request, f"{link}: {refusal.message}", messages.ERROR)
            else:
                self.message_user(request, f"{link}: {link.review_proposal} confirmed.", messages.SUCCESS)
