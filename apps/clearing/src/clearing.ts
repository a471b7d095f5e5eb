/**
 * Clearing: novation and the books of record. Every trade on matching-events is novated (the
 * clearinghouse becomes buyer to the seller and seller to the buyer): it enters the trade
 * register and moves both accounts' positions against the clearinghouse. Cash commands (deposits,
 * and withdrawals that risk has approved) move the cash ledger; each cash movement is published on
 * clearing-events for risk. At end of day (SettlementPriceSet on the instrument's stream) it posts
 * the variation margin of every account holding the instrument (docs/decisions/0006-end-of-day.md);
 * at a contract's expiry (ContractExpired, after its final settlement) it closes every position.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { formatCents, isCashAmount, MAX_ACCOUNT_CASH_CENTS, parseCents, ProductCatalog, variationMargin } from '@ch/domain';
import type { Trade } from '@ch/matching';
import { sql } from '@ch/persistence';
import {
  assertNever,
  commandPayload,
  decodeEvent,
  EVENT_CODEC,
  eventToWire,
  formatInstant,
  topicName,
  type CashDeposited,
  type CashWithdrawn,
  type CommandPayload,
} from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming } from '@ch/runtime';
import { applyCash, postVariationMargin } from './cash-ledger';
import { actionOf } from './dispatch';

export const CLEARING_STREAM = 'clearing';

export class Clearing {
  /** Event time of the last cash movement: the cash ledger's time never goes backwards. */
  private lastAt = 0;
  private readonly catalog = new ProductCatalog();

  /** Picks the clock up where the ledger left it (after a restart). */
  async load(db: DataSource): Promise<void> {
    const r = await sql<{ at: Date | null }>(db, 'SELECT max(at) AS at FROM cash_ledger');
    const at = r.rows[0]?.at;
    this.lastAt = at ? at.getTime() : 0;
  }

  async handle(messages: Incoming[], ctx: BatchContext): Promise<void> {
    const trades: Trade[] = [];
    const tradeMsgs: Incoming[] = [];
    for (const m of messages) {
      const env = m.envelope;
      const action = actionOf(env.type);
      switch (action) {
        case 'novate':
          trades.push(decodeEvent('Trade', env.payload));
          tradeMsgs.push(m);
          break;
        case 'settle':
          // The instrument's stream is in order: every trade of the session is already cleared.
          await this.flushTrades(ctx, trades, tradeMsgs);
          await this.settle(ctx, m);
          break;
        case 'close':
          await this.flushTrades(ctx, trades, tradeMsgs);
          await this.closePositions(ctx, m);
          break;
        case 'cash':
          await this.flushTrades(ctx, trades, tradeMsgs);
          await this.cash(ctx, m);
          break;
        case 'ignore':
          break;
        default:
          assertNever(action, 'action');
      }
    }
    await this.flushTrades(ctx, trades, tradeMsgs);
  }

  private async flushTrades(ctx: BatchContext, trades: Trade[], msgs: Incoming[]): Promise<void> {
    if (!trades.length) return;
    const m = ctx.manager;
    await sql(
      m,
      `INSERT INTO trades (instrument, trade_id, price, qty, buy_account, sell_account, buy_client_order_id, sell_client_order_id, aggressor, at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])`,
      [
        trades.map((t) => t.instrument),
        trades.map((t) => t.tradeId),
        trades.map((t) => t.price),
        trades.map((t) => t.qty),
        trades.map((t) => t.buyAccount),
        trades.map((t) => t.sellAccount),
        trades.map((t) => t.buyClientOrderId),
        trades.map((t) => t.sellClientOrderId),
        trades.map((t) => t.aggressor),
        trades.map((t) => formatInstant(t.at)),
      ],
    );
    const delta = new Map<string, { account: string; instrument: string; qty: number; at: number }>();
    const move = (account: string, instrument: string, qty: number, at: number) => {
      const k = `${account}\u0000${instrument}`;
      const d = delta.get(k) ?? { account, instrument, qty: 0, at };
      d.qty += qty;
      d.at = at;
      delta.set(k, d);
    };
    trades.forEach((t, i) => {
      move(t.buyAccount, t.instrument, t.qty, t.at);
      move(t.sellAccount, t.instrument, -t.qty, t.at);
      const env = msgs[i].envelope;
      ctx.out.event(
        CLEARING_STREAM,
        'TradeCleared',
        {
          instrument: t.instrument,
          tradeId: t.tradeId,
          price: EVENT_CODEC.priceToWire(t.instrument, t.price),
          qty: t.qty,
          // Novation: two contracts, each against the clearinghouse.
          legs: [
            { account: t.buyAccount, side: 'buy', counterparty: 'CCP', qty: t.qty },
            { account: t.sellAccount, side: 'sell', counterparty: 'CCP', qty: t.qty },
          ],
        },
        { at: formatInstant(t.at), actor: 'system:clearing', correlationId: env.correlationId, causationId: env.eventId, source: msgs[i].source },
      );
    });
    const ds = [...delta.values()];
    await sql(
      m,
      `INSERT INTO positions (account_id, instrument, qty, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
       ON CONFLICT (account_id, instrument) DO UPDATE SET qty = positions.qty + EXCLUDED.qty, updated_at = EXCLUDED.updated_at`,
      [ds.map((d) => d.account), ds.map((d) => d.instrument), ds.map((d) => d.qty), ds.map((d) => formatInstant(d.at))],
    );
    trades.length = 0;
    msgs.length = 0;
  }

  /**
   * Variation margin of one instrument for one trade date (SPEC §7.2): per account,
   * carried · (S_t − S_prev) · multiplier + Σ today's fills signed · (S_t − fill) · multiplier, with
   * the same domain function the ClearingLedger uses. Today's fills are the register's trades
   * after the previous settlement's last trade; the carried position is the net position minus
   * them. Each non-zero amount is posted to the cash ledger; every account with a position that
   * day gets a VariationMarginPosted (as the in-process rulebook does). A trade date settled
   * already posts nothing.
   */
  private async settle(ctx: BatchContext, m: Incoming): Promise<void> {
    const env = m.envelope;
    const e = decodeEvent('SettlementPriceSet', env.payload);
    const mgr = ctx.manager;
    const done = await sql(mgr, 'SELECT 1 FROM settlements WHERE instrument = $1 AND trade_date = $2', [e.instrument, e.tradeDate]);
    if (done.rows.length) return;
    const product = this.catalog.forSymbol(e.instrument);
    if (!product) throw new Error(`clearing: no product for ${e.instrument}`);
    const prev = await sql<{ last_trade_id: string }>(mgr, 'SELECT last_trade_id FROM settlements WHERE instrument = $1 ORDER BY trade_date DESC LIMIT 1', [
      e.instrument,
    ]);
    const afterTrade = prev.rows[0]?.last_trade_id ?? '0';
    const fills = await sql<{ trade_id: string; price: string; qty: string; buy_account: string; sell_account: string }>(
      mgr,
      'SELECT trade_id, price, qty, buy_account, sell_account FROM trades WHERE instrument = $1 AND trade_id > $2 ORDER BY trade_id',
      [e.instrument, afterTrade],
    );
    const positions = await sql<{ account_id: string; qty: string }>(mgr, 'SELECT account_id, qty FROM positions WHERE instrument = $1', [e.instrument]);
    const days = new Map<string, { net: number; fills: { qty: number; priceTicks: number }[] }>();
    const day = (a: string) => {
      let d = days.get(a);
      if (!d) days.set(a, (d = { net: 0, fills: [] }));
      return d;
    };
    for (const r of positions.rows) day(r.account_id).net = Number(r.qty);
    let lastTradeId = afterTrade;
    for (const t of fills.rows) {
      day(t.buy_account).fills.push({ qty: Number(t.qty), priceTicks: Number(t.price) });
      day(t.sell_account).fills.push({ qty: -Number(t.qty), priceTicks: Number(t.price) });
      lastTradeId = t.trade_id;
    }
    const at = Math.max(this.lastAt, e.at);
    this.lastAt = at;
    const iso = formatInstant(at);
    const vm: { account: string; amount: number }[] = [];
    // Exact: each amount is a safe integer, their running sum over many accounts need not be.
    let total = 0n;
    for (const account of [...days.keys()].sort()) {
      const d = days.get(account)!;
      const carried = d.net - d.fills.reduce((s, f) => s + f.qty, 0);
      if (carried === 0 && d.fills.length === 0) continue;
      const amount = variationMargin({ carried, fills: d.fills }, e.previousPrice, e.price, product);
      total += BigInt(amount);
      vm.push({ account, amount });
    }
    if (total !== 0n) throw new Error(`clearing: variation margin of ${e.instrument} for ${e.tradeDate} sums to ${total}, not zero`);
    const balances = await postVariationMargin(mgr, vm, e.instrument, e.tradeDate, iso);
    for (const { account, amount } of vm) {
      const balance = balances.get(account) ?? 0;
      ctx.out.event(
        CLEARING_STREAM,
        'VariationMarginPosted',
        eventToWire({ type: 'VariationMarginPosted', at, tradeDate: e.tradeDate, account, instrument: e.instrument, amount, balance: formatCents(balance) }),
        { at: iso, actor: 'system:clearing', correlationId: env.correlationId, causationId: env.eventId, source: m.source },
        [{ topic: topicName('clearingEvents'), key: account }],
      );
    }
    await sql(
      mgr,
      'INSERT INTO settlements (instrument, trade_date, price, previous_price, method, reason, last_trade_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [e.instrument, e.tradeDate, e.price, e.previousPrice, e.method, e.reason ?? null, lastTradeId, iso],
    );
  }

  /**
   * Final settlement (SPEC §8): the contract's variation margin against the final price is already
   * posted (its SettlementPriceSet precedes ContractExpired in the instrument's stream), so every
   * position closes at the final price with no further cash. Each close is recorded in
   * position_closes and logged as PositionClosed; the position rows go, as the ledger drops them.
   * A contract closed already closes nothing.
   */
  private async closePositions(ctx: BatchContext, m: Incoming): Promise<void> {
    const env = m.envelope;
    const e = decodeEvent('ContractExpired', env.payload);
    const mgr = ctx.manager;
    const at = Math.max(this.lastAt, e.at);
    this.lastAt = at;
    const iso = formatInstant(at);
    const closed = await sql<{ account_id: string; qty: string }>(mgr, 'DELETE FROM positions WHERE instrument = $1 RETURNING account_id, qty', [e.instrument]);
    const rows = closed.rows.filter((r) => Number(r.qty) !== 0).sort((a, b) => (a.account_id < b.account_id ? -1 : a.account_id > b.account_id ? 1 : 0));
    if (!rows.length) return;
    await sql(
      mgr,
      `INSERT INTO position_closes (account_id, instrument, trade_date, qty, price, at)
       SELECT a, $3::text, $4::date, q, $5::bigint, $6::timestamptz FROM unnest($1::text[], $2::bigint[]) AS u(a, q)
       ON CONFLICT (account_id, instrument) DO NOTHING`,
      [rows.map((r) => r.account_id), rows.map((r) => Number(r.qty)), e.instrument, e.tradeDate, e.finalPrice, iso],
    );
    for (const r of rows) {
      ctx.out.event(
        CLEARING_STREAM,
        'PositionClosed',
        eventToWire({
          type: 'PositionClosed',
          at,
          tradeDate: e.tradeDate,
          account: r.account_id,
          instrument: e.instrument,
          qty: Number(r.qty),
          price: e.finalPrice,
        }),
        { at: iso, actor: 'system:clearing', correlationId: env.correlationId, causationId: env.eventId, source: m.source },
        [{ topic: topicName('clearingEvents'), key: r.account_id }],
      );
    }
  }

  private async cash(ctx: BatchContext, m: Incoming): Promise<void> {
    const env = m.envelope;
    const p = env.type === 'Deposit' ? commandPayload(env, 'Deposit') : commandPayload(env, 'Withdrawal');
    const at = sequenceTime(this.lastAt, p.eventTime);
    this.lastAt = at;
    if (env.type === 'Deposit') {
      const refused = await this.depositRefusal(ctx.manager, p);
      if (refused !== null) {
        // Refused before it reaches the cash ledger (and risk): logged with the reason, nothing moves.
        // The amount as sent (it may not be a decimal of cents: detail 'amount'), so not through the codec.
        const type = 'DepositRejected';
        ctx.out.event(
          CLEARING_STREAM,
          type,
          {
            type,
            at: formatInstant(at),
            account: p.account,
            amount: p.amount,
            reference: p.reference ?? env.eventId,
            reason: 'INVALID_REQUEST',
            detail: refused,
          },
          { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
          [{ topic: topicName('clearingEvents'), key: p.account }],
        );
        return;
      }
    }
    const amount = parseCents(p.amount);
    const signed = env.type === 'Deposit' ? amount : -amount;
    const balance = await applyCash(
      ctx.manager,
      p.account,
      signed,
      env.type === 'Deposit' ? 'deposit' : 'withdrawal',
      p.reference ?? env.eventId,
      formatInstant(at),
    );
    const moved: CashDeposited | CashWithdrawn =
      env.type === 'Deposit'
        ? { type: 'CashDeposited', at, account: p.account, amount, balance: formatCents(balance) }
        : { type: 'CashWithdrawn', at, account: p.account, amount, balance: formatCents(balance) };
    ctx.out.event(
      CLEARING_STREAM,
      moved.type,
      eventToWire(moved),
      { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
      [{ topic: topicName('clearingEvents'), key: p.account }],
    );
  }

  /**
   * Why a deposit cannot be posted (null: it can): its amount is not a bounded amount of whole
   * cents, or it would take the account's balance past MAX_ACCOUNT_CASH_CENTS (libs/domain/src/bounds.ts).
   * Intake checks both first; this is the authoritative check, for a command that got past it.
   */
  private async depositRefusal(manager: EntityManager, p: CommandPayload<'Deposit'>): Promise<'amount' | 'account' | 'balance' | null> {
    let amount: number;
    try {
      // The sender's promise (a string) is checked, not trusted: parseCents refuses anything else.
      amount = parseCents(p.amount);
    } catch {
      return 'amount';
    }
    if (!isCashAmount(amount)) return 'amount';
    if (typeof p.account !== 'string' || p.account === '') return 'account';
    const r = await sql<{ balance: string }>(manager, 'SELECT balance FROM cash_balances WHERE account_id = $1', [p.account]);
    const balance = BigInt(r.rows[0]?.balance ?? '0');
    return balance + BigInt(amount) > BigInt(MAX_ACCOUNT_CASH_CENTS) ? 'balance' : null;
  }
}
