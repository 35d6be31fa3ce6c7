"""The bank rail that moves customers' money in and out, chosen by `BANK_RAIL`.

`simulated` (the embedded default) accepts everything and settles at once. `plaid` links
the customer's bank with Plaid Link and moves money with Plaid's Transfer API
(`portfolios/plaid.py`); its settlement and return events arrive later, by event sync,
and call `transfer_settle` / `transfer_reject` / `transfer_return`. Nothing else in the
app knows which rail is used.
"""

import uuid
from typing import Protocol

from django.conf import settings

from portfolios.models import Transfer


class BankRailRefused(Exception):
    """The rail definitely refused the transfer: reject it (releasing a withdrawal's hold)."""

    def __init__(self, reason: str, *, code: str = "bank_rail_refused"):
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def after_rejection(self) -> None:
        """Side effects to record once the transfer is rejected (its own transaction)."""


class BankRailUnavailable(Exception):
    """The rail could not answer (rate limit, outage): try the same transfer again later."""


class BankRail(Protocol):
    name: str
    settles_at_once: bool

    def submit(self, transfer: Transfer) -> str:
        """Hand a transfer to the rail; returns the rail's reference. Called inside
        `transfer_submit`'s transaction, so rows written here commit with the move."""
        ...


class SimulatedBankRail:
    name = "simulated"
    settles_at_once = True

    def submit(self, transfer: Transfer) -> str:
        return f"SIM-{uuid.uuid4().hex[:16]}"


def bank_rail() -> BankRail:
    if settings.BANK_RAIL == "plaid":
        from portfolios.plaid import PlaidBankRail

        return PlaidBankRail()
    return SimulatedBankRail()


def submit_to_bank_rail(transfer: Transfer) -> str:
    return bank_rail().submit(transfer)
