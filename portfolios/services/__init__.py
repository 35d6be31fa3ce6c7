"""Portfolio writes: the only code that moves money or shares.

Lock order, everywhere: the customer's `Account` row first (`select_for_update`), then
the `Position` row, then the customer's own `LedgerAccount` rows (ascending id). Every
path that changes an account's money takes the Account lock first, so two paths on one
account serialise instead of deadlocking. Platform ledger accounts are never locked or
updated (their balances are summed from lines), so fills on different accounts never
wait for each other.

One module per concern, each importing only those before it (no cycles):
    common        the account lock, the customer's ledger rows, the spendable-cash and amount
                  checks, the account update to the owner's sockets
    ledger        balanced journal entries and their reversal
    accounts      opening, activation (KYC), restrictions, the tax lot method
    reservations  buying power and shares held for open orders
    lots          tax lots: opened and closed by fills, wash sales, lots chosen for a sell order
    fills         one execution's cash, fee, position and tax lots; good-faith violations; a batch of
                  plain fills set-based (`fills_apply_at_once`)
    transfers     deposits and withdrawals, the bank rail's answers, ACH returns, recovery
    adjustments   manual cash adjustments (four eyes)
    snapshots     equity snapshots and the demo history
    watchlists    watchlists
Callers use the names below (`from portfolios import services; services.fill_apply(...)`).
"""

from portfolios.services.accounts import (
    account_lot_method_set,
    account_open,
    account_restriction_apply,
    accounts_activate,
)
from portfolios.services.adjustments import cash_adjustment_approve, cash_adjustment_propose, cash_adjustment_reject
from portfolios.services.common import Cause, Kind
from portfolios.services.fills import FillAtOnce, FillBooked, fill_announce, fill_apply, fills_apply_at_once
from portfolios.services.ledger import Leg, journal_entry_post, journal_entry_reverse, platform_ledger_account
from portfolios.services.lots import lot_selection_record
from portfolios.services.reservations import cash_release, cash_reserve, position_release, position_reserve
from portfolios.services.snapshots import (
    DEMO_HISTORY_STEP,
    equity_history_backfill,
    equity_snapshots_take,
    session_close_snapshots_take,
    snapshot_slot,
)
from portfolios.services.transfers import (
    deposit_settled_post,
    transfer_cancel,
    transfer_create,
    transfer_reject,
    transfer_return,
    transfer_settle,
    transfer_submit,
    transfers_recover,
)
from portfolios.services.watchlists import (
    watchlist_create,
    watchlist_delete,
    watchlist_rename,
    watchlist_symbol_add,
    watchlist_symbol_remove,
    watchlist_symbols_set,
    watchlist_update,
)

__all__ = [
    "DEMO_HISTORY_STEP",
    "Cause",
    "FillAtOnce",
    "FillBooked",
    "Kind",
    "Leg",
    "account_lot_method_set",
    "account_open",
    "account_restriction_apply",
    "accounts_activate",
    "cash_adjustment_approve",
    "cash_adjustment_propose",
    "cash_adjustment_reject",
    "cash_release",
    "cash_reserve",
    "deposit_settled_post",
    "equity_history_backfill",
    "equity_snapshots_take",
    "fill_announce",
    "fill_apply",
    "fills_apply_at_once",
    "journal_entry_post",
    "journal_entry_reverse",
    "lot_selection_record",
    "platform_ledger_account",
    "position_release",
    "position_reserve",
    "session_close_snapshots_take",
    "snapshot_slot",
    "transfer_cancel",
    "transfer_create",
    "transfer_reject",
    "transfer_return",
    "transfer_settle",
    "transfer_submit",
    "transfers_recover",
    "watchlist_create",
    "watchlist_delete",
    "watchlist_rename",
    "watchlist_symbol_add",
    "watchlist_symbol_remove",
    "watchlist_symbols_set",
    "watchlist_update",
]
