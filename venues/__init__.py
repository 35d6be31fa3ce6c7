"""Clients of the outside venues and data providers, shared by marketdata's feeds and trading's adapters.

Pure client code: settings are passed in, nothing here imports a Django app or writes a
row. What a venue sends comes back as plain data (Decimal, datetime, dataclasses) for the
callers to book or publish.

* `alpaca`: credentials, alpaca-py's clients (trading, trade updates, data streams,
  historical data), Alpaca's order and trade-update reports.
* `ccxt`: exchanges built from settings, the exchange market for a SpeedTrade symbol, the
  reconnect backoff, unified orders and trades.
* `wire`: the one parser of a venue's numbers; `backoff`: reconnect and retry delays.
"""
