/**
 * Risk's private state in Postgres: risk_state (the replica, per account / instrument / trade date /
 * limits, and meta), risk_client_orders, margin, margin_calls, halts and the rejected orders' rows.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { ClearingLedger, emptyLedgerState, type AccountRisk, type InstrumentRisk, type LedgerState } from '@ch/domain';
import { startSession } from '@ch/matching';
import { eventToWire, formatInstant } from '@ch/rulebook';
import { commandPayload, type InstrumentMargin } from '@ch/messages';
import { sql } from '@ch/persistence';
import { type BatchContext, type Incoming } from '@ch/runtime';
import { readAccountLimits, type AccountLimits } from '@ch/domain/contracts/account-limits';
import type { EodDay } from '@ch/domain';
import { type RiskState, RISK_STREAM, type OpenOrder, type MarketState, type Meta } from './state';

/** Rebuilds the replica from risk_state. */
export async function load(s: RiskState, ds: DataSource): Promise<void> {
  const state: LedgerState = emptyLedgerState();
  const rows = await sql<{ key: string; value: unknown }>(ds, 'SELECT key, value FROM risk_state');
  for (const { key, value } of rows.rows) {
    const [kind, id] = splitKey(key);
    if (kind === 'account') {
      const v = value as { ledger: AccountRisk; orders: Record<string, OpenOrder> };
      state.accounts[id] = v.ledger;
      s.orders.set(id, new Map(Object.entries(v.orders)));
    } else if (kind === 'instrument') {
      const v = value as { ledger: InstrumentRisk; market: MarketState | { halted: boolean } };
      state.instruments[id] = v.ledger;
      // A row written before halts were derived here starts a fresh derivation of its session.
      s.market.set(id, 'halts' in v.market ? v.market : { halts: startSession(id, v.ledger.referenceTicks), lastAt: 0 });
    } else if (kind === 'eod') {
      s.eodDays.set(id, value as EodDay);
    } else if (kind === 'limits') {
      s.accountLimits.set(id, readAccountLimits(value as AccountLimits));
    } else if (kind === 'meta') {
      const m = value as Meta & { lastAt: number };
      state.intradayCalled = m.intradayCalled;
      state.totalDeposits = String(m.totalDeposits ?? 0);
      state.totalWithdrawals = String(m.totalWithdrawals ?? 0);
      s.lastAt = m.lastAt;
    }
  }
  for (const [account, a] of Object.entries(state.accounts)) {
    for (const instrument of Object.keys(a.positions)) s.holdersOf(instrument).add(account);
  }
  s.ledger = new ClearingLedger(state);
}

/** One query for every clientOrderId the batch's orders, replaces and cancels name. */
export async function prefetchClientOrders(s: RiskState, manager: EntityManager, messages: Incoming[]): Promise<void> {
  s.clientOrders = new Map();
  const accounts: string[] = [];
  const ids: string[] = [];
  for (const m of messages) {
    const t = m.envelope.type;
    if (t !== 'SubmitOrder' && t !== 'ReplaceOrder' && t !== 'CancelOrder') continue;
    const p = commandPayload(m.envelope, t);
    accounts.push(p.account);
    ids.push(p.clientOrderId);
  }
  if (!ids.length) return;
  const r = await sql<{ account_id: string; client_order_id: string; content: string }>(
    manager,
    `SELECT c.account_id, c.client_order_id, c.content FROM risk_client_orders c
     JOIN unnest($1::text[], $2::text[]) AS w(a, i) ON c.account_id = w.a AND c.client_order_id = w.i`,
    [accounts, ids],
  );
  for (const row of r.rows) s.clientOrders.set(`${row.account_id}\u0000${row.client_order_id}`, row.content);
}

/**
 * Matching commits a listing (the `instruments` row) before it publishes InstrumentListed, and
 * intake lets orders through once the row exists; an order can therefore reach risk before the
 * listing event does. Risk then takes the listing from the row (the event, when it comes, finds
 * the instrument listed and changes nothing).
 */
export async function listFromProjection(s: RiskState, manager: EntityManager, symbol: string): Promise<Readonly<InstrumentRisk> | null> {
  const r = await sql<{ product: string; reference_price: string; listed_after_eod: string | null }>(
    manager,
    `SELECT product, reference_price, to_char(listed_after_eod, 'YYYY-MM-DD') AS listed_after_eod FROM instruments WHERE symbol = $1 AND status = 'listed'`,
    [symbol],
  );
  const row = r.rows[0];
  const product = row ? s.catalog.get(row.product) : undefined;
  if (!row || !product) return null;
  const ref = Number(row.reference_price);
  s.ledger.listInstrument(symbol, product, ref);
  s.market.set(symbol, { halts: startSession(symbol, ref), lastAt: 0, ...(row.listed_after_eod ? { listedAfterEndOfDay: row.listed_after_eod } : {}) });
  s.dirtyInstruments.add(symbol);
  return s.ledger.instrument(symbol);
}

export async function flush(s: RiskState, ctx: BatchContext): Promise<void> {
  for (const instrument of s.tradedInstruments) for (const account of s.holdersOf(instrument)) s.dirtyAccounts.add(account);
  s.tradedInstruments = new Set();
  const keys: string[] = [];
  const values: string[] = [];
  const margin: { account: string; equity: number; im: number; mm: number; instruments: unknown; calls: unknown; at: string }[] = [];
  const at = formatInstant(s.lastAt);
  for (const account of [...s.dirtyAccounts].sort()) {
    keys.push(`account:${account}`);
    values.push(JSON.stringify({ ledger: s.ledger.account(account), orders: Object.fromEntries(s.ordersOf(account)) }));
    const req = s.ledger.computeRequirements(account);
    const equity = s.ledger.equity(account);
    const instruments: InstrumentMargin[] = req.perInstrument.map((x) => ({
      instrument: x.instrument,
      lots: x.lots,
      sigma: x.params.sigma,
      ratePpb: x.params.ratePpb,
      referencePrice: x.params.referenceTicks,
      im: x.im,
    }));
    // The projection keeps σ as its text (the `margin` row's JSON), the event as a number (the codec writes its decimal).
    const projected = instruments.map((i) => ({ ...i, sigma: String(i.sigma) }));
    margin.push({ account, equity, im: req.im, mm: req.mm, instruments: projected, calls: s.ledger.outstandingCalls(account), at });
    const stated = eventToWire({
      type: 'MarginRequirementStated',
      at: s.lastAt,
      account,
      tradeDate: s.statedTradeDate,
      equity,
      im: req.im,
      mm: req.mm,
      instruments,
    });
    ctx.out.event(RISK_STREAM, 'MarginRequirementStated', stated, { at, actor: 'system:risk', correlationId: `margin:${account}` });
  }
  for (const symbol of [...s.dirtyInstruments].sort()) {
    keys.push(`instrument:${symbol}`);
    values.push(JSON.stringify({ ledger: s.ledger.instrument(symbol), market: s.market.get(symbol) }));
  }
  for (const date of s.eodDirty) {
    keys.push(`eod:${date}`);
    values.push(JSON.stringify(s.eodDays.get(date)));
  }
  s.eodDirty = new Set();
  const limitAccounts: string[] = [];
  const limitValues: string[] = [];
  for (const account of s.limitsDirty) {
    keys.push(`limits:${account}`);
    values.push(JSON.stringify(s.limitsOf(account)));
    limitAccounts.push(account);
    limitValues.push(values[values.length - 1]);
  }
  s.limitsDirty = new Set();
  if (keys.length) {
    keys.push('meta');
    values.push(JSON.stringify({ ...s.ledger.meta(), lastAt: s.lastAt }));
    await sql(
      ctx.manager,
      `INSERT INTO risk_state (key, value) SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS t(k, v)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [keys, values],
    );
  }
  // Risk's public read models (its private replica stays in risk_state): the account limits and
  // the instruments it has settled, for intake's GET routes (docs/architecture.md, data ownership).
  if (limitAccounts.length) {
    await sql(
      ctx.manager,
      `INSERT INTO account_limits (account_id, value) SELECT a, v::jsonb FROM unnest($1::text[], $2::text[]) AS t(a, v)
       ON CONFLICT (account_id) DO UPDATE SET value = EXCLUDED.value`,
      [limitAccounts, limitValues],
    );
  }
  if (s.settledNow.length) {
    await sql(ctx.manager, `INSERT INTO risk_settlements (instrument, trade_date) SELECT * FROM unnest($1::text[], $2::date[]) ON CONFLICT DO NOTHING`, [
      s.settledNow.map((x) => x.instrument),
      s.settledNow.map((x) => x.tradeDate),
    ]);
    s.settledNow = [];
  }
  if (margin.length) {
    await sql(
      ctx.manager,
      `INSERT INTO margin (account_id, equity, initial_margin, maintenance_margin, instruments, outstanding_calls, updated_at)
       SELECT a, e, i, m, x::jsonb, c::jsonb, t FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[]) AS u(a, e, i, m, x, c, t)
       ON CONFLICT (account_id) DO UPDATE SET equity = EXCLUDED.equity, initial_margin = EXCLUDED.initial_margin,
         maintenance_margin = EXCLUDED.maintenance_margin, instruments = EXCLUDED.instruments, outstanding_calls = EXCLUDED.outstanding_calls, updated_at = EXCLUDED.updated_at`,
      [
        margin.map((x) => x.account),
        margin.map((x) => x.equity),
        margin.map((x) => x.im),
        margin.map((x) => x.mm),
        margin.map((x) => JSON.stringify(x.instruments)),
        margin.map((x) => JSON.stringify(x.calls)),
        margin.map((x) => x.at),
      ],
    );
  }
  for (const c of s.calls) {
    await sql(
      ctx.manager,
      'INSERT INTO margin_calls (account_id, trade_date, amount, intraday, equity, initial_margin, maintenance_margin, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [c.account, c.tradeDate, c.amount, c.intraday, c.equity, c.im, c.mm, formatInstant(c.at)],
    );
  }
  if (s.newClientOrders.length) {
    const n = s.newClientOrders;
    await sql(
      ctx.manager,
      `INSERT INTO risk_client_orders (account_id, client_order_id, instrument, content) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
      [n.map((x) => x.account), n.map((x) => x.clientOrderId), n.map((x) => x.instrument), n.map((x) => x.content)],
    );
    s.newClientOrders = [];
  }
  if (s.halts.length) {
    const h = s.halts;
    await sql(
      ctx.manager,
      `INSERT INTO halts (instrument, tier, start_at, end_at) SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[])
       ON CONFLICT (instrument, start_at) DO NOTHING`,
      [h.map((x) => x.instrument), h.map((x) => x.tier), h.map((x) => formatInstant(x.start)), h.map((x) => (x.end === null ? null : formatInstant(x.end)))],
    );
    s.halts = [];
  }
  for (const r of s.rejectedOrders) {
    await sql(
      ctx.manager,
      `INSERT INTO rejected_orders (account_id, client_order_id, instrument, reason, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, client_order_id) DO NOTHING`,
      [r.account, r.clientOrderId, r.instrument, r.reason, formatInstant(r.at)],
    );
  }
  s.calls = [];
  s.statedTradeDate = null;
  s.rejectedOrders = [];
  s.dirtyAccounts = new Set();
  s.dirtyInstruments = new Set();
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf(':');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}
