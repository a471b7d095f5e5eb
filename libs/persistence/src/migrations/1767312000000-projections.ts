import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Projection tables of the four services, and the heads of the streams they write. Every table
 * here can be rebuilt from the event log; prices are integer ticks and money integer cents
 * (bigint), times are event times.
 */
export class Projections1767312000000 implements MigrationInterface {
  name = 'Projections1767312000000';

  async up(q: QueryRunner): Promise<void> {
    // The last sequence number each writer used on each of its streams (one writer per stream).
    await q.query(`CREATE TABLE stream_heads (stream text PRIMARY KEY, last_seq bigint NOT NULL CHECK (last_seq >= 0))`);

    // Reference data, written by order-intake's operations routes.
    await q.query(`
      CREATE TABLE members (
        member_id  text PRIMARY KEY,
        name       text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE accounts (
        account_id text PRIMARY KEY,
        member_id  text NOT NULL REFERENCES members (member_id),
        created_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX accounts_member_idx ON accounts (member_id)`);
    await q.query(`
      CREATE TABLE api_keys (
        key_id     text PRIMARY KEY,
        key_hash   char(64) NOT NULL UNIQUE,
        role       text NOT NULL CHECK (role IN ('member', 'operations', 'auditor')),
        member_id  text REFERENCES members (member_id),
        label      text,
        active     boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL,
        CHECK ((role = 'member') = (member_id IS NOT NULL))
      )`);

    // matching: instruments, market data, and each order's current state.
    await q.query(`
      CREATE TABLE instruments (
        symbol           text PRIMARY KEY,
        product          text NOT NULL,
        reference_price  bigint NOT NULL,
        last_trading_day date NOT NULL,
        status           text NOT NULL CHECK (status IN ('listed', 'expired')),
        listed_at        timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE market_data (
        symbol          text PRIMARY KEY,
        session_state   text NOT NULL,
        band_tier       integer NOT NULL,
        band_lo         bigint NOT NULL,
        band_hi         bigint NOT NULL,
        reference_price bigint NOT NULL,
        last_price      bigint,
        depth           jsonb NOT NULL,
        halt            jsonb,
        updated_at      timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE orders (
        account_id      text NOT NULL,
        client_order_id text NOT NULL,
        instrument      text NOT NULL,
        order_id        bigint,
        side            text NOT NULL,
        order_type      text NOT NULL,
        tif             text NOT NULL,
        price           bigint,
        qty             bigint NOT NULL,
        open_qty        bigint NOT NULL,
        filled_qty      bigint NOT NULL,
        status          text NOT NULL,
        reason          text,
        updated_at      timestamptz NOT NULL,
        PRIMARY KEY (account_id, client_order_id)
      )`);

    // clearing: the trade register (novated), positions and the cash ledger.
    await q.query(`
      CREATE TABLE trades (
        instrument           text NOT NULL,
        trade_id             bigint NOT NULL,
        price                bigint NOT NULL,
        qty                  bigint NOT NULL,
        buy_account          text NOT NULL,
        sell_account         text NOT NULL,
        buy_client_order_id  text NOT NULL,
        sell_client_order_id text NOT NULL,
        aggressor            text NOT NULL,
        at                   timestamptz NOT NULL,
        PRIMARY KEY (instrument, trade_id)
      )`);
    await q.query(`CREATE INDEX trades_buy_idx ON trades (buy_account)`);
    await q.query(`CREATE INDEX trades_sell_idx ON trades (sell_account)`);
    await q.query(`
      CREATE TABLE positions (
        account_id text NOT NULL,
        instrument text NOT NULL,
        qty        bigint NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, instrument)
      )`);
    await q.query(`
      CREATE TABLE cash_ledger (
        id            bigserial PRIMARY KEY,
        account_id    text NOT NULL,
        kind          text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'variation_margin')),
        amount        bigint NOT NULL,
        balance_after bigint NOT NULL,
        reference     text,
        at            timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX cash_ledger_account_idx ON cash_ledger (account_id, id)`);
    await q.query(`CREATE TABLE cash_balances (account_id text PRIMARY KEY, balance bigint NOT NULL)`);

    // risk: its ledger replica (one row per account / instrument), clientOrderId idempotency,
    // the margin projection and margin calls.
    await q.query(`CREATE TABLE risk_state (key text PRIMARY KEY, value jsonb NOT NULL)`);
    await q.query(`
      CREATE TABLE risk_client_orders (
        account_id      text NOT NULL,
        client_order_id text NOT NULL,
        instrument      text NOT NULL,
        content         text NOT NULL,
        PRIMARY KEY (account_id, client_order_id)
      )`);
    await q.query(`
      CREATE TABLE margin (
        account_id         text PRIMARY KEY,
        equity             bigint NOT NULL,
        initial_margin     bigint NOT NULL,
        maintenance_margin bigint NOT NULL,
        instruments        jsonb NOT NULL,
        updated_at         timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE margin_calls (
        id         bigserial PRIMARY KEY,
        account_id text NOT NULL,
        trade_date date NOT NULL,
        amount     bigint NOT NULL,
        intraday   boolean NOT NULL,
        equity     bigint NOT NULL,
        initial_margin bigint NOT NULL,
        maintenance_margin bigint NOT NULL,
        at         timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX margin_calls_account_idx ON margin_calls (account_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'margin_calls',
      'margin',
      'risk_client_orders',
      'risk_state',
      'cash_balances',
      'cash_ledger',
      'positions',
      'trades',
      'orders',
      'market_data',
      'instruments',
      'api_keys',
      'accounts',
      'members',
      'stream_heads',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
