"""Brokerage accounts, the double-entry ledger, positions and their tax lots, transfers and bank links
(Plaid records included), cash adjustments, equity snapshots, watchlists and settlement records: the
app's schema.

One module despite its length (issue 17): it is declarations — fields, and the constraints that
keep the ledger's invariants in the database — with no business logic to separate (that is in
`portfolios.services`), and Django looks an app's models up here.
"""

import secrets
import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from speedtrade.money import MONEY_FIELD, PRICE_FIELD, QTY_FIELD, ZERO


def new_account_number() -> str:
    return f"ST{secrets.randbelow(10**10):010d}"


class Account(models.Model):
    """A customer's brokerage account. One per user to begin with; the model allows more."""

    class Type(models.TextChoices):
        CASH = "cash"
        MARGIN = "margin"

    class Status(models.TextChoices):
        ONBOARDING = "onboarding"  # KYC not yet approved
        ACTIVE = "active"
        CLOSED = "closed"

    class LotMethod(models.TextChoices):
        """Which tax lots a sale closes when the customer chose none on the ticket."""

        FIFO = "fifo", "First in, first out"
        LIFO = "lifo", "Last in, first out"
        HIFO = "hifo", "Highest cost first"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="brokerage_accounts")
    account_number = models.CharField(max_length=12, unique=True, default=new_account_number, editable=False)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.CASH)
    currency = models.CharField(max_length=3, default="USD", editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ONBOARDING)
    trading_blocked = models.BooleanField(default=False)
    transfers_blocked = models.BooleanField(default=False)
    account_blocked = models.BooleanField(default=False, help_text="Frozen: no trading, no transfers.")
    lot_method = models.CharField(max_length=4, choices=LotMethod.choices, default=LotMethod.FIFO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.account_number

    @property
    def can_trade(self) -> bool:
        return self.status == self.Status.ACTIVE and not (self.trading_blocked or self.account_blocked)

    @property
    def can_transfer(self) -> bool:
        """The flags' part of the rule; `selectors.transfer_refusal_reason` also checks KYC."""
        return self.status == self.Status.ACTIVE and not (self.transfers_blocked or self.account_blocked)


# --- Ledger ---------------------------------------------------------------------------
#
# Double entry: every JournalEntry has lines that sum to zero; a line's amount is signed
# and read from the customer's side (positive = more money for the holder of a customer
# account; a platform account's negative balance mirrors what it owes customers). Rows are
# only ever inserted (services), never updated or deleted; PostgreSQL triggers refuse
# UPDATE/DELETE and check each entry's balance at commit (migration 0003). Corrections are
# reversal entries.


class LedgerAccount(models.Model):
    """One ledger account: a customer's cash or withdrawal hold, or a platform account."""

    class Kind(models.TextChoices):
        CASH = "cash", "customer cash"
        WITHDRAWAL_HOLD = "withdrawal_hold", "customer cash held for a pending withdrawal"
        BANK = "bank", "platform bank / clearing (money in and out of the bank rail)"
        VENUE_SETTLEMENT = "venue_settlement", "platform settlement with trading venues"
        FEES = "fees", "platform fee revenue"
        ADJUSTMENTS = "adjustments", "platform manual adjustments"

    CUSTOMER_KINDS = (Kind.CASH, Kind.WITHDRAWAL_HOLD)

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    allow_negative = models.BooleanField(
        default=False, help_text="Margin cash and platform accounts may go below zero; cash-account cash may not."
    )
    # Cached for customer accounts only, updated in the posting transaction under the row
    # lock. Platform accounts are touched by every fill; caching their balance would make
    # their row a lock every order waits on, so theirs is always summed from the lines.
    balance = models.DecimalField(**MONEY_FIELD, default=ZERO)
    # Buying power held by open buy orders (cash kind only). A counter, not journal
    # entries: order entry must stay one row update (see docs/notes/portfolios.md).
    reserved = models.DecimalField(**MONEY_FIELD, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"], condition=models.Q(account__isnull=False), name="ledger_account_per_kind"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(account__isnull=True), name="ledger_platform_account_per_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(account__isnull=True, kind__in=["bank", "venue_settlement", "fees", "adjustments"])
                | models.Q(account__isnull=False, kind__in=["cash", "withdrawal_hold"]),
                name="ledger_account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(allow_negative=True) | models.Q(balance__gte=0), name="ledger_balance_not_negative"
            ),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="ledger_reserved_not_negative"),
            # A cash account's open buy orders can never hold more than its cash.
            models.CheckConstraint(
                condition=models.Q(allow_negative=True) | models.Q(reserved__lte=models.F("balance")),
                name="ledger_reserved_within_cash",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account or 'platform'}:{self.kind}"


class JournalEntry(models.Model):
    """One business event's money movement. Its lines sum to zero."""

    class Cause(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        FILL = "fill"
        FEE = "fee"
        ADJUSTMENT = "adjustment"
        REVERSAL = "reversal"

    # Causes that bring money into or out of the customer's equity from outside (as
    # opposed to trading results); P&L figures subtract them.
    EXTERNAL_FLOWS = (Cause.DEPOSIT, Cause.WITHDRAWAL, Cause.ADJUSTMENT)

    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="journal_entries",
        help_text="The customer account concerned, for statements and activities.",
    )
    cause_type = models.CharField(max_length=12, choices=Cause.choices)
    cause_content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    cause_object_id = models.CharField(max_length=64, blank=True)
    cause = GenericForeignKey("cause_content_type", "cause_object_id")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    memo = models.CharField(max_length=255, blank=True)
    # Trade details, for fill entries: the ledger reads on its own for compliance.
    asset = models.ForeignKey("marketdata.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices, blank=True)
    qty = models.DecimalField(**QTY_FIELD, null=True, blank=True)
    price = models.DecimalField(**PRICE_FIELD, null=True, blank=True)
    effective_at = models.DateTimeField(help_text="When the event happened (execution time for fills).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "journal entries"
        indexes = [
            models.Index(fields=["account", "effective_at"]),
            models.Index(fields=["cause_content_type", "cause_object_id"]),
        ]
        constraints = [
            # A repeated execution report can never post twice.
            models.UniqueConstraint(
                fields=["cause_type", "cause_content_type", "cause_object_id"],
                condition=models.Q(cause_type__in=["fill", "fee"]) & ~models.Q(cause_object_id=""),
                name="journal_one_fill_entry_per_cause",
            ),
            models.CheckConstraint(
                condition=~models.Q(cause_type="fill")
                | models.Q(asset__isnull=False, qty__gt=0, price__gt=0, side__in=["buy", "sell"]),
                name="journal_fill_has_trade_details",
            ),
            models.CheckConstraint(
                condition=models.Q(cause_type="reversal", reverses__isnull=False)
                | (~models.Q(cause_type="reversal") & models.Q(reverses__isnull=True)),
                name="journal_reversal_names_its_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cause_type} {self.id}"


class JournalLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    ledger_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="lines")
    amount = models.DecimalField(**MONEY_FIELD)
    settles_on = models.DateField(
        null=True, blank=True, help_text="Sale proceeds: the settlement date before which the cash is unsettled."
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ledger_account", "settles_on"])]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="journal_line_amount_nonzero")]

    def __str__(self) -> str:
        return f"{self.ledger_account} {self.amount}"


# --- Positions ------------------------------------------------------------------------


class Position(models.Model):
    """A long holding, valued by average cost (see docs/notes/portfolios.md).

    The row stays after the position closes (qty 0, `closed_at` set) so realized P&L is
    kept; buying again reopens it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="positions")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="positions")
    qty = models.DecimalField(**QTY_FIELD, default=ZERO)
    # Shares held by open sell orders: a counter, like cash reservations.
    reserved_qty = models.DecimalField(**QTY_FIELD, default=ZERO)
    avg_entry_price = models.DecimalField(**PRICE_FIELD, default=ZERO)
    cost_basis = models.DecimalField(**MONEY_FIELD, default=ZERO)
    realized_pl = models.DecimalField(**MONEY_FIELD, default=ZERO)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset__symbol"]
        constraints = [
            models.UniqueConstraint(fields=["account", "asset"], name="position_per_account_asset"),
            models.CheckConstraint(condition=models.Q(qty__gte=0), name="position_long_only"),
            models.CheckConstraint(
                condition=models.Q(reserved_qty__gte=0, reserved_qty__lte=models.F("qty")),
                name="position_reserved_within_qty",
            ),
            models.CheckConstraint(condition=models.Q(cost_basis__gte=0), name="position_cost_basis_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.asset} {self.qty}"


# --- Tax lots (docs/notes/tax-lots.md) -------------------------------------------------
#
# The position's average cost is for display; lots are the tax record. Every buy fill opens a
# lot, every sell fill closes lots (one LotClosing per lot it consumed), in the fill's
# transaction. Money on lots is whole cents and conserved: a closing takes its pro-rata share
# of the lot's `open_basis`, the last share of a lot takes what is left.


class TaxLot(models.Model):
    """Shares bought in one fill, at a cost that includes the buy's fee.

    A wash sale makes some of a lot's shares the replacement of a sale's shares: those shares are
    split off into a lot of their own (`split_from`), which carries the disallowed loss
    (`wash_sale_adjustment`, added to its basis) and the sold shares' holding period
    (`holding_period_start`). So every lot is the replacement of at most one closing.
    On PostgreSQL a trigger refuses DELETE and any change to who, what and when (migration 0008).
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="tax_lots")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(
        JournalEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tax_lots",
        help_text="The buy fill's entry; empty for a position held before lots were kept.",
    )
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Wash-sale split."
    )
    acquired_at = models.DateTimeField()
    holding_period_start = models.DateField(
        help_text="Acquired date (ET) for the holding period; earlier for a wash sale's replacement (Pub 550)."
    )
    qty = models.DecimalField(**QTY_FIELD, help_text="Shares in the lot as opened (or split off).")
    open_qty = models.DecimalField(**QTY_FIELD, help_text="Of those, shares not yet sold.")
    cost = models.DecimalField(**MONEY_FIELD, help_text="What `qty` cost, fee included.")
    wash_sale_adjustment = models.DecimalField(
        **MONEY_FIELD, default=ZERO, help_text="Disallowed loss added to the basis (wash sale)."
    )
    wash_sale_of = models.ForeignKey(
        "LotClosing",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacement_lots",
        help_text="The loss sale these shares replaced.",
    )
    open_basis = models.DecimalField(
        **MONEY_FIELD, help_text="Basis of the open shares: cost + wash-sale adjustment − what closings took."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["acquired_at", "id"]
        indexes = [models.Index(fields=["account", "asset", "acquired_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(qty__gt=0, open_qty__gte=0, open_qty__lte=models.F("qty")),
                name="tax_lot_open_within_qty",
            ),
            models.CheckConstraint(
                condition=models.Q(cost__gte=0, open_basis__gte=0, wash_sale_adjustment__gte=0),
                name="tax_lot_money_not_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(open_qty=0) | models.Q(open_basis=0), name="tax_lot_closed_has_no_basis"
            ),
            models.CheckConstraint(
                condition=models.Q(wash_sale_of__isnull=False) | models.Q(wash_sale_adjustment=0),
                name="tax_lot_wash_adjustment_names_its_sale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.asset} {self.open_qty}/{self.qty} from {self.acquired_at:%Y-%m-%d}"

    def term_if_sold_on(self, day: date) -> str:
        """Long term when held more than one year (Pub 550: counted from the day after acquisition,
        the day of sale included), so a sale exactly one year on is still short term. A lot bought on
        29 February has been held a year on 28 February (Rev. Rul. 66-7: long term from 1 March)."""
        start = self.holding_period_start
        try:
            one_year_on = start.replace(year=start.year + 1)
        except ValueError:
            one_year_on = date(start.year + 1, 2, 28)
        return LotClosing.Term.LONG if day > one_year_on else LotClosing.Term.SHORT


class LotClosing(models.Model):
    """Shares of one lot sold by one sell fill: a line of the year-end realized gains report.

    `gain` is proceeds − cost basis; a wash sale disallows part of a loss
    (`wash_sale_disallowed`), so the gain reported is `gain + wash_sale_disallowed`. Append-only
    on PostgreSQL, except `wash_sale_disallowed`, which grows when a purchase within 30 days after
    the sale replaces its shares (the replacement lot names this closing).
    """

    class Term(models.TextChoices):
        SHORT = "short", "Short term"  # held one year or less
        LONG = "long", "Long term"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lot_closings")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="closings")
    closed_by = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="lot_closings", help_text="The sell fill's entry."
    )
    qty = models.DecimalField(**QTY_FIELD)
    acquired_at = models.DateTimeField(help_text="When the lot was bought.")
    sold_at = models.DateTimeField()
    proceeds = models.DecimalField(**MONEY_FIELD, help_text="This closing's share of the sale, net of its fee.")
    cost_basis = models.DecimalField(**MONEY_FIELD, help_text="Its share of the lot's basis, wash adjustment included.")
    gain = models.DecimalField(**MONEY_FIELD, help_text="proceeds − cost basis (negative: a loss).")
    wash_sale_disallowed = models.DecimalField(**MONEY_FIELD, default=ZERO, help_text="Loss disallowed (wash sale).")
    term = models.CharField(max_length=5, choices=Term.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # gain = proceeds − cost_basis is a CHECK on PostgreSQL only (migration 0008): SQLite, the embedded
        # default, stores decimals as floating point, where the difference of two cents need not equal a third.
        ordering = ["sold_at", "id"]
        indexes = [models.Index(fields=["account", "sold_at"]), models.Index(fields=["account", "asset", "sold_at"])]
        constraints = [
            models.UniqueConstraint(fields=["closed_by", "lot"], name="lot_closing_once_per_fill_and_lot"),
            models.CheckConstraint(condition=models.Q(qty__gt=0, cost_basis__gte=0), name="lot_closing_qty_positive"),
            models.CheckConstraint(
                condition=models.Q(wash_sale_disallowed=0)
                | models.Q(wash_sale_disallowed__gt=0, gain__lt=0, wash_sale_disallowed__lte=-models.F("gain")),
                name="lot_closing_disallows_at_most_its_loss",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.asset} {self.qty} sold {self.sold_at:%Y-%m-%d}"

    @property
    def reported_gain(self) -> Decimal:
        """The gain or loss reported (1099-B): the economic gain with the disallowed loss added back."""
        return self.gain + self.wash_sale_disallowed


class LotSelection(models.Model):
    """A lot the customer chose on a sell order's ticket, and how many of its shares to sell.

    The order's fills close these lots first (in `id` order), up to `open_qty`; what they cannot
    cover (a lot sold meanwhile by another order) follows the account's lot method.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    order_ref = models.CharField(max_length=64, help_text="The sell order (trading's order id).")
    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="selections")
    qty = models.DecimalField(**QTY_FIELD)
    open_qty = models.DecimalField(**QTY_FIELD, help_text="Of those, shares the order's fills have not sold yet.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order_ref"])]
        constraints = [
            models.UniqueConstraint(fields=["order_ref", "lot"], name="lot_selection_once_per_order"),
            models.CheckConstraint(
                condition=models.Q(qty__gt=0, open_qty__gte=0, open_qty__lte=models.F("qty")),
                name="lot_selection_open_within_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_ref}: {self.open_qty}/{self.qty} of lot {self.lot_id}"


# --- Transfers ------------------------------------------------------------------------


class Transfer(models.Model):
    """A deposit or withdrawal through the (simulated) bank rail."""

    class Direction(models.TextChoices):
        INCOMING = "incoming"
        OUTGOING = "outgoing"

    class Status(models.TextChoices):
        QUEUED = "queued"  # accepted by us, not yet handed to the bank rail
        PENDING = "pending"  # with the bank rail
        SETTLED = "settled"
        CANCELED = "canceled"
        REJECTED = "rejected"
        RETURNED = "returned"  # settled, then returned by the bank (ACH return): reversed in the ledger

    OPEN_STATUSES = (Status.QUEUED, Status.PENDING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transfers")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    amount = models.DecimalField(**MONEY_FIELD)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=255, blank=True, help_text="Why it was rejected or canceled.")
    rail_reference = models.CharField(max_length=64, blank=True, help_text="The bank rail's id for the transfer.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="transfer_amount_positive")]

    def __str__(self) -> str:
        return f"{self.direction} {self.amount} ({self.status})"


# --- Linked bank accounts (Plaid) -----------------------------------------------------


class BankLink(models.Model):
    """A customer's bank account linked through Plaid Link, with what proves it is theirs.

    Money moves only from and to an `approved` link. A link whose Identity owner names do
    not match the approved KYC name is `held` for compliance review (two people decide).
    """

    class Status(models.TextChoices):
        APPROVED = "approved"  # owner name matched, or compliance approved it
        HELD = "held"  # owner name mismatch: compliance review
        REJECTED = "rejected"  # compliance refused it: never used
        LOGIN_REQUIRED = "login_required"  # Plaid: ITEM_LOGIN_REQUIRED, the customer must relink

    USABLE_STATUSES = (Status.APPROVED,)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="bank_links")
    status = models.CharField(max_length=16, choices=Status.choices)
    plaid_item_id = models.CharField(max_length=64, db_index=True)
    plaid_account_id = models.CharField(max_length=64)
    access_token_encrypted = models.TextField(editable=False, help_text="Plaid access token, Fernet-encrypted.")
    institution_name = models.CharField(max_length=200, blank=True)
    account_name = models.CharField(max_length=200, blank=True)
    account_mask = models.CharField(max_length=8, blank=True, help_text="Last four digits of the account number.")
    routing_mask = models.CharField(max_length=8, blank=True, help_text="Last four digits of the routing number.")
    owner_names = models.JSONField(default=list, help_text="Owner names Plaid Identity returned.")
    kyc_name = models.CharField(max_length=201, help_text="The approved KYC name the owners were compared with.")
    name_match_score = models.DecimalField(max_digits=4, decimal_places=3)
    review_proposal = models.CharField(max_length=8, blank=True, choices=[("approve", "approve"), ("reject", "reject")])
    review_reason = models.CharField(max_length=500, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("review_banklink", "Can propose or confirm a decision on a held bank link")]
        constraints = [
            models.UniqueConstraint(fields=["account", "plaid_account_id"], name="bank_link_unique_plaid_account"),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("proposed_by")),
                name="bank_link_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution_name} {self.account_name} ••{self.account_mask} ({self.status})"


class PlaidTransfer(models.Model):
    """Our transfer's counterpart at Plaid's Transfer API."""

    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="plaid")
    bank_link = models.ForeignKey(BankLink, on_delete=models.PROTECT, related_name="transfers")
    authorization_id = models.CharField(max_length=64)
    plaid_transfer_id = models.CharField(max_length=64, unique=True)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    return_code = models.CharField(max_length=8, blank=True, help_text="ACH return code (R01, ...) if returned.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.plaid_transfer_id


class BankRailCursor(models.Model):
    """How far a rail's event feed has been applied (Plaid: the last `event_id` synced)."""

    name = models.CharField(max_length=32, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"


class PlaidWebhookReceipt(models.Model):
    """Each verified webhook once: a replay of the same signed token changes nothing."""

    token_sha256 = models.CharField(max_length=64, unique=True)
    webhook_type = models.CharField(max_length=64)
    webhook_code = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.webhook_type}.{self.webhook_code} at {self.received_at}"


# --- Manual cash adjustments (four eyes) ----------------------------------------------


class CashAdjustment(models.Model):
    """A manual credit (+) or debit (−) of a customer's cash: one Compliance user proposes,
    a different one approves; only approval posts to the ledger."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cash_adjustments")
    amount = models.DecimalField(**MONEY_FIELD, help_text="Positive credits the customer, negative debits.")
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    journal_entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("approve_cashadjustment", "Can approve or reject a cash adjustment")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="cash_adjustment_nonzero"),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("proposed_by")),
                name="cash_adjustment_four_eyes",
            ),
            models.CheckConstraint(
                condition=models.Q(status="approved", journal_entry__isnull=False)
                | (~models.Q(status="approved") & models.Q(journal_entry__isnull=True)),
                name="cash_adjustment_posted_iff_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount} ({self.status})"


# --- Portfolio history ----------------------------------------------------------------


class EquitySnapshot(models.Model):
    """The account's value at one moment, for the equity curve and `last_equity`."""

    class Kind(models.TextChoices):
        INTRADAY = "intraday"
        SESSION_CLOSE = "close"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="equity_snapshots")
    timestamp = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    session_date = models.DateField(null=True, blank=True, help_text="For close snapshots: the session closed.")
    equity = models.DecimalField(**MONEY_FIELD)
    cash = models.DecimalField(**MONEY_FIELD)
    long_market_value = models.DecimalField(**MONEY_FIELD)
    net_contributions = models.DecimalField(
        **MONEY_FIELD, help_text="Deposits − withdrawals ± adjustments to date, so history P&L excludes them."
    )
    profit_loss = models.DecimalField(**MONEY_FIELD, help_text="equity − net_contributions: total P&L to date.")

    class Meta:
        ordering = ["timestamp"]
        indexes = [models.Index(fields=["account", "timestamp"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "session_date"],
                condition=models.Q(kind="close"),
                name="one_close_snapshot_per_session",
            ),
            # Intraday snapshots are taken at the start of their interval (`snapshot_slot`): a second
            # beat, a retried task or a late run writes nothing twice.
            models.UniqueConstraint(
                fields=["account", "timestamp"],
                condition=models.Q(kind="intraday"),
                name="one_intraday_snapshot_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.timestamp:%Y-%m-%d %H:%M} {self.equity}"


class Watchlist(models.Model):
    """An ordered list of assets an account follows (Alpaca's watchlist)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="watchlist_name_unique_per_account")]

    def __str__(self) -> str:
        return self.name


class WatchlistEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="entries")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(help_text="0-based place in the list.")

    class Meta:
        ordering = ["watchlist", "position"]
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "asset"], name="watchlist_asset_once"),
        ]

    def __str__(self) -> str:
        return f"{self.watchlist_id}#{self.position}"


# --- Good-faith violations (cash accounts; see docs/notes/portfolios.md) ----------------


class UnsettledFundsPurchase(models.Model):
    """A cash-account stock purchase paid, at least in part, with sale proceeds that had not
    settled. Selling these shares before `funds_settle_on` is a good-faith violation."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="unsettled_funds_purchases")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+", help_text="The buy.")
    unsettled_amount = models.DecimalField(**MONEY_FIELD, help_text="Unsettled funds the purchase used.")
    qty = models.DecimalField(**QTY_FIELD, help_text="Shares paid for with those funds (pro rata).")
    open_qty = models.DecimalField(**QTY_FIELD, help_text="Of those, shares not yet sold in a violation.")
    funds_settle_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["funds_settle_on", "id"]
        indexes = [models.Index(fields=["account", "asset", "funds_settle_on"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(qty__gt=0, open_qty__gte=0, open_qty__lte=models.F("qty")),
                name="unsettled_purchase_open_within_qty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.asset} {self.open_qty}/{self.qty} until {self.funds_settle_on}"


class GoodFaithViolation(models.Model):
    """Shares bought with unsettled funds, sold before those funds settled. One row per sale order."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="good_faith_violations")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    order_ref = models.CharField(max_length=64, blank=True, help_text="The sale order (trading's order id).")
    qty = models.DecimalField(**QTY_FIELD, help_text="Shares sold before their funds settled.")
    trade_date = models.DateField()
    funds_settle_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "id"]
        indexes = [models.Index(fields=["account", "trade_date"])]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "order_ref"],
                condition=~models.Q(order_ref=""),
                name="good_faith_violation_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.asset} {self.qty} on {self.trade_date}"
