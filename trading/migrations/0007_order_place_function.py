"""The order writer's PL/pgSQL function (`trading/order_writer.py` calls it): one round trip for the part of order
placement that protects money, with the account row locked.

VOLATILE, so each statement in it sees rows committed while it waited for the account lock (a single statement of
data-modifying CTEs shares one snapshot and could not). A later change is a new migration with CREATE OR REPLACE;
this one stays as it was applied. The embedded default's SQLite has no PL/pgSQL: the writer takes the ORM path there.

Arguments: the new order's row (every column, as Python's model builds it), its first event's and its audit event's
rows without their ids (JSON objects keyed by column), and the statuses of open orders that can trade against it
(NULL: no wash-trade check). The result's first column is `created`, `existing` (the order already placed with
this client_order_id, in `order_id`), or the code of the refusal: `account_not_tradable`, `potential_wash_trade`
(the resting order in `order_id` and `resting_side`), `insufficient_buying_power` or `insufficient_position` (what
was available, seen locked, in `available`). A refusal writes nothing.
"""

from django.db import migrations

from speedtrade.postgresql_only import RunSQLOnPostgreSQL

CREATE = r"""
CREATE OR REPLACE FUNCTION trading_order_place(
    new_order_row jsonb,
    first_event_row jsonb,
    audit_event_row jsonb,
    wash_trade_statuses text[],
    OUT result text,
    OUT order_id uuid,
    OUT audit_event_id bigint,
    OUT resting_side text,
    OUT available numeric
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    new_order trading_order := jsonb_populate_record(NULL::trading_order, new_order_row);
    account_row record;
BEGIN
    -- The account row first: every service that moves the account's money or shares locks it first.
    SELECT a.status, a.trading_blocked, a.account_blocked INTO account_row
      FROM portfolios_account a WHERE a.id = new_order.account_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'trading_order_place: no account %', new_order.account_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    -- Idempotency: the lock serialises same-id requests, so a retry finds the first one's order.
    SELECT o.id INTO order_id FROM trading_order o
     WHERE o.account_id = new_order.account_id AND o.client_order_id = new_order.client_order_id;
    IF FOUND THEN
        result := 'existing';
        RETURN;
    END IF;

    -- A restriction or closure committed while this waited for the lock (portfolios.Account.can_trade).
    IF account_row.status <> 'active' OR account_row.trading_blocked OR account_row.account_blocked THEN
        result := 'account_not_tradable';
        RETURN;
    END IF;

    -- Wash trades (trading.risk.would_cross), the newest crossing order first, as Review reports it.
    IF wash_trade_statuses IS NOT NULL THEN
        SELECT o.id, o.side INTO order_id, resting_side FROM trading_order o
         WHERE o.account_id = new_order.account_id AND o.asset_id = new_order.asset_id
           AND o.side <> new_order.side AND o.status = ANY (wash_trade_statuses)
           AND (new_order.type = 'market' OR o.type = 'market'
                OR (new_order.type IN ('limit', 'stop_limit') AND o.type IN ('limit', 'stop_limit')
                    AND o.limit_price IS NOT NULL
                    AND CASE WHEN new_order.side = 'buy' THEN new_order.limit_price >= o.limit_price
                             ELSE new_order.limit_price <= o.limit_price END))
         ORDER BY o.created_at DESC, o.id DESC
         LIMIT 1;
        IF FOUND THEN
            result := 'potential_wash_trade';
            RETURN;
        END IF;
    END IF;

    -- The reservation's conditional UPDATE is the check (portfolios.services.reservations).
    IF new_order.side = 'buy' THEN
        UPDATE portfolios_ledgeraccount l SET reserved = l.reserved + new_order.reserved_cash
         WHERE l.account_id = new_order.account_id AND l.kind = 'cash'
           AND (l.allow_negative OR l.balance >= l.reserved + new_order.reserved_cash);
        IF NOT FOUND THEN
            SELECT greatest(l.balance - l.reserved, 0) INTO available FROM portfolios_ledgeraccount l
             WHERE l.account_id = new_order.account_id AND l.kind = 'cash';
            result := 'insufficient_buying_power';
            available := coalesce(available, 0);
            RETURN;
        END IF;
    ELSE
        UPDATE portfolios_position p SET reserved_qty = p.reserved_qty + new_order.reserved_qty
         WHERE p.account_id = new_order.account_id AND p.asset_id = new_order.asset_id
           AND p.qty >= p.reserved_qty + new_order.reserved_qty;
        IF NOT FOUND THEN
            SELECT p.qty - p.reserved_qty INTO available FROM portfolios_position p
             WHERE p.account_id = new_order.account_id AND p.asset_id = new_order.asset_id;
            result := 'insufficient_position';
            available := coalesce(available, 0);
            RETURN;
        END IF;
    END IF;

    INSERT INTO trading_order SELECT (new_order).*;
    INSERT INTO trading_orderevent (order_id, event, from_status, to_status, qty, price, latency_us, detail, created_at)
    SELECT e.order_id, e.event, e.from_status, e.to_status, e.qty, e.price, e.latency_us, e.detail, e.created_at
      FROM jsonb_populate_record(NULL::trading_orderevent, first_event_row) e;
    INSERT INTO accounts_auditevent (created_at, actor_id, actor_type, action, target_type, target_id,
                                     subject_user_id, before, after, ip_address, user_agent)
    SELECT e.created_at, e.actor_id, e.actor_type, e.action, e.target_type, e.target_id,
           e.subject_user_id, e.before, e.after, e.ip_address, e.user_agent
      FROM jsonb_populate_record(NULL::accounts_auditevent, audit_event_row) e
    RETURNING id INTO audit_event_id;
    order_id := new_order.id;
    result := 'created';
END;
$$;
"""

DROP = "DROP FUNCTION IF EXISTS trading_order_place(jsonb, jsonb, jsonb, text[]);"


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0006_order_view_permissions"),
        ("accounts", "0014_user_display_preferences"),
        ("portfolios", "0007_plaid_bank_links"),
    ]

    operations = [RunSQLOnPostgreSQL([CREATE], [DROP])]
