"""The bank rail that moves customers' money in and out: simulated.

INTEGRATION POINT (Plaid / ACH): a real deployment links the customer's bank account
with Plaid Link (Auth product: account and routing numbers, or a processor token for the
ACH provider), then originates ACH debits (deposits) and credits (withdrawals) through an
ODFI or a broker API's transfer endpoint, replacing `submit_to_bank_rail` below. The ACH
return/settlement webhook then calls `portfolios.services.transfer_settle` or
`transfer_reject`. Nothing else in the app knows which rail is used.
"""

import uuid

from portfolios.models import Transfer


def submit_to_bank_rail(transfer: Transfer) -> str:
    """Hand a transfer to the rail; returns the rail's reference. The simulation accepts all."""
    return f"SIM-{uuid.uuid4().hex[:16]}"
