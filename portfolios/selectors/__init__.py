"""Portfolio reads: one valuation, one activity feed, one history, one ledger check.

One module per concern, each importing only those before it (no cycles):
    common      the ledger kinds, the trading date, ratios
    cash        cash by settlement, withdrawable cash, good faith, outside money, the ledger check
    valuation   positions and the account's figures (equity, buying power, margin, today's P&L)
    activities  the activity feed and the portfolio history
    accounts    the user's account, and whether it may trade or move money
    lots        tax lots: open lots, lot closings (realized gains)
    watchlists  the account's watchlists
Callers use the names below (`from portfolios import selectors; selectors.account_valuation(...)`).
"""

from portfolios.selectors.accounts import (
    account_active_restrictions,
    account_cash_balance,
    kyc_approval_known,
    owner_kyc_approved,
    primary_account,
    trading_refusal_reason,
    transfer_refusal_reason,
)
from portfolios.selectors.activities import (
    ACTIVITY_TYPES,
    PERIODS,
    TIMEFRAMES,
    PortfolioHistory,
    account_activities,
    portfolio_history,
)
from portfolios.selectors.cash import (
    CashState,
    UnsettledShares,
    cash_state,
    good_faith_violation_dates,
    ledger_discrepancies,
    shares_bought_with_unsettled_funds,
    withdrawable_cash,
)
from portfolios.selectors.common import Kind, today_et
from portfolios.selectors.lots import (
    LotValuation,
    RealizedGains,
    lot_closings,
    lot_discrepancies,
    lot_valuations,
    open_lots,
    realized_gains,
    tax_year_bounds,
)
from portfolios.selectors.valuation import (
    MAINTENANCE_RATE,
    MARGIN_MINIMUM_EQUITY,
    NON_MARGINABLE_RATE,
    REG_T_INITIAL_RATE,
    AccountValuation,
    PositionValuation,
    ValuationInputs,
    account_valuation,
    assets_held,
    position_get,
    position_list,
    position_valuation,
    valuation_inputs,
    valuation_priced,
)
from portfolios.selectors.watchlists import watchlist_get, watchlist_list

__all__ = [
    "ACTIVITY_TYPES",
    "MAINTENANCE_RATE",
    "MARGIN_MINIMUM_EQUITY",
    "NON_MARGINABLE_RATE",
    "PERIODS",
    "REG_T_INITIAL_RATE",
    "TIMEFRAMES",
    "AccountValuation",
    "CashState",
    "Kind",
    "LotValuation",
    "PortfolioHistory",
    "PositionValuation",
    "RealizedGains",
    "UnsettledShares",
    "ValuationInputs",
    "account_active_restrictions",
    "account_activities",
    "account_cash_balance",
    "kyc_approval_known",
    "owner_kyc_approved",
    "account_valuation",
    "assets_held",
    "cash_state",
    "good_faith_violation_dates",
    "ledger_discrepancies",
    "lot_closings",
    "lot_discrepancies",
    "lot_valuations",
    "open_lots",
    "portfolio_history",
    "position_get",
    "position_list",
    "position_valuation",
    "primary_account",
    "realized_gains",
    "shares_bought_with_unsettled_funds",
    "tax_year_bounds",
    "today_et",
    "trading_refusal_reason",
    "transfer_refusal_reason",
    "valuation_inputs",
    "valuation_priced",
    "watchlist_get",
    "watchlist_list",
    "withdrawable_cash",
]
