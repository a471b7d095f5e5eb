/**
 * The matching service's core loop: one sequencer per instrument. Commands arrive on
 * matching-commands (one partition holds every command of an instrument, so this single consumer
 * is the only writer of each book); each is stamped with event time, run through the pure engine,
 * and its events are logged, published on matching-events and projected (orders, market data,
 * instruments), all in the batch's transaction.
 *
 * Recovery: a book is its latest snapshot plus the tail of its own stream in the event log,
 * re-driven through the engine (the input facts OrderAccepted, OrderReplaced, member cancels,
 * resumptions, rolls and expiry reproduce every derived fact, because the engine is
 * deterministic). Snapshots are taken every SNAPSHOT_EVERY events of a stream.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { addDays, finalSettlementTicks, formatTicks, lastTradingDay, listingChanges, parsePriceToTicks, ProductCatalog, settlementPrice, SettlementError, type ProductSpec, type SessionTrade } from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type NewOrder } from '@ch/matching';
import { eventFromWire, eventToWire, formatE4, formatInstant, redrive } from '@ch/rulebook';
import { loadLatestSnapshot, saveSnapshot, sql } from '@ch/persistence';
import { topicName } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming, type StreamHeads } from '@ch/runtime';
import type { Producer } from '@ch/kafka';
import { encodeEnvelope } from '@ch/messages';
import { randomUUID } from 'node:crypto';
import { OrderProjection } from './order-projection';

export const SNAPSHOT_EVERY = Number(process.env.MATCHING_SNAPSHOT_EVERY ?? 2000);

const streamOf = (symbol: string): string => `matching:${symbol}`;

interface CutoffResult {
  /** Logged before the engine's events of the cut-off (SettlementPriceSet, EndOfDayFailed). */
  before: Record<string, unknown>[];
  /** Logged after them (ContractExpired follows the book's closing cancels). */
  after: Record<string, unknown>[];
  /** For the run's progress: settled now, failed (now or before), or nothing to do. */
  outcome: 'settled' | 'failed' | 'unchanged';
}

interface Book {
  engine: MatchingEngine;
  eventsSinceSnapshot: number;
}

export class Sequencer {
  private readonly books = new Map<string, Book>();
  private readonly catalog = new ProductCatalog();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Events of the command being processed, collected by the engines' sink. */
  private sinkTarget: MatchingEvent[] | null = null;
  /** A batch is being applied: the books hold state that is not committed yet. */
  private busy = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly heads: StreamHeads,
    private readonly producer: Producer,
  ) {}

  /** Loads every listed instrument's book (snapshot + tail) and re-arms halt timers. */
  async recoverAll(): Promise<void> {
    await this.heads.loadPrefix(this.ds, 'matching:');
    const r = await sql<{ symbol: string }>(this.ds, `SELECT symbol FROM instruments WHERE status = 'listed' ORDER BY symbol`);
    for (const row of r.rows) await this.loadBook(this.ds, row.symbol);
    this.armTimers();
  }

  bookOf(symbol: string): MatchingEngine | undefined {
    return this.books.get(symbol)?.engine;
  }

  /** Resolves when no batch is in progress: the books are as of the last commit. */
  whenIdle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  /** After a batch committed: readers may look at the books, and new halts get their timers. */
  afterCommit(): void {
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.armTimers();
  }

  private newEngine(symbol: string, referencePrice: number): MatchingEngine {
    return new MatchingEngine({ instrument: symbol, referencePrice, sink: (e) => this.sinkTarget?.push(e) });
  }

  private async loadBook(db: DataSource | EntityManager, symbol: string): Promise<Book | undefined> {
    const existing = this.books.get(symbol);
    if (existing) return existing;
    const stream = streamOf(symbol);
    const snap = await loadLatestSnapshot<ReturnType<MatchingEngine['snapshot']>>(db, stream);
    let engine: MatchingEngine | null = snap ? MatchingEngine.restore(snap.state, (e) => this.sinkTarget?.push(e)) : null;
    let position = snap?.position ?? 0;
    // Re-drive the tail; the regenerated events are discarded (they are already in the log).
    const discard: MatchingEvent[] = [];
    for (;;) {
      const tail = await sql<{ stream_seq: string; type: string; payload: Record<string, unknown> }>(
        db,
        'SELECT stream_seq, type, payload FROM event_log WHERE stream = $1 AND stream_seq > $2 ORDER BY stream_seq LIMIT 5000',
        [stream, position],
      );
      if (!tail.rows.length) break;
      for (const row of tail.rows) {
        position = Number(row.stream_seq);
        const e = eventFromWire(row.payload) as unknown as MatchingEvent & { type: string };
        if ((e as { type: string }).type === 'InstrumentListed') {
          engine = this.newEngine(symbol, (e as unknown as { referencePrice: number }).referencePrice);
          engine.advanceTime(e.at);
          continue;
        }
        if (!engine) continue;
        this.sinkTarget = discard;
        redrive(engine, e);
        // A derived fact of a command that changed nothing else (a rejection) still moved the
        // book's clock: keep it, so the stream's event time never comes back earlier after a restart.
        if (e.at > engine.time) engine.advanceTime(e.at);
        this.sinkTarget = null;
        discard.length = 0;
      }
    }
    if (!engine) return undefined;
    const book = { engine, eventsSinceSnapshot: 0 };
    this.books.set(symbol, book);
    return book;
  }

  /** Applies one batch of commands (in partition order). */
  async handle(messages: Incoming[], ctx: BatchContext, projection: OrderProjection): Promise<void> {
    this.busy = true;
    const touched = new Set<string>();
    const eventsTopic = topicName('matchingEvents');
    for (const m of messages) {
      const env = m.envelope;
      const p = env.payload as Record<string, unknown>;
      const symbol = String(p.instrument ?? '');
      const stream = streamOf(symbol);
      await this.heads.load(ctx.manager, [stream]);
      const collected: MatchingEvent[] = [];
      this.sinkTarget = collected;
      let extra: Record<string, unknown>[] = [];
      /** Facts that follow the engine's events of the command (a contract's expiry). */
      let trailing: Record<string, unknown>[] = [];
      try {
        if (env.type === 'ListInstrument') {
          extra = await this.list(ctx.manager, symbol, p, env.at);
        } else {
          const book = await this.loadBook(ctx.manager, symbol);
          if (!book) {
            // Intake checks instruments before publishing; a command for an unknown book is refused.
            collected.push({ type: 'OrderRejected', instrument: symbol, at: Date.parse(env.at), command: commandKind(env.type), account: (p.account as string) ?? null, clientOrderId: (p.clientOrderId as string) ?? null, orderId: null, reason: 'UNKNOWN_INSTRUMENT' } as unknown as MatchingEvent);
          } else if (env.type === 'Cutoff') {
            const r = await this.cutoff(ctx, symbol, book.engine, p, env.at, env);
            extra = r.before;
            trailing = r.after;
            await recordCutoff(ctx.manager, p, symbol, r.outcome, book.engine.time);
          } else {
            this.execute(book.engine, env.type, p);
          }
        }
      } finally {
        this.sinkTarget = null;
      }
      const meta = { actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
      for (const wire of extra) {
        ctx.out.event(stream, String(wire.type), wire, { ...meta, at: String(wire.at) }, [{ topic: eventsTopic, key: symbol }]);
      }
      for (const e of collected) {
        const wire = eventToWire(e);
        ctx.out.event(stream, e.type, wire, { ...meta, at: formatInstant(e.at) }, [{ topic: eventsTopic, key: symbol }]);
        projection.apply(e);
      }
      for (const wire of trailing) {
        ctx.out.event(stream, String(wire.type), wire, { ...meta, at: String(wire.at) }, [{ topic: eventsTopic, key: symbol }]);
      }
      const book = this.books.get(symbol);
      if (book) book.eventsSinceSnapshot += collected.length;
      if (collected.length || extra.length || trailing.length) touched.add(symbol);
    }
    await projection.flush(ctx.manager);
    for (const symbol of touched) {
      const book = this.books.get(symbol);
      if (!book) continue;
      await writeMarketData(ctx.manager, symbol, book.engine);
      if (book.eventsSinceSnapshot >= SNAPSHOT_EVERY) {
        await saveSnapshot(ctx.manager, streamOf(symbol), this.heads.last(streamOf(symbol)), book.engine.snapshot());
        book.eventsSinceSnapshot = 0;
      }
    }
  }

  /**
   * End of day for one instrument (SPEC §7, §8, docs/decisions/0006-end-of-day.md and
   * 0007-final-settlement.md): the cut-off is sequenced in the instrument's own stream, so the
   * session's trades are exactly the Trade events of the stream since its last SessionRolled (or
   * its listing). Sets the settlement price (override > final on the last trading day > VWAP of the
   * last 30 minutes > last > previous) and rolls the session. On the last trading day the final
   * price is the latest index value published during the session (index_values, written by
   * intake in the publication's transaction); the book is then closed (open orders cancelled with
   * INSTRUMENT_EXPIRED), ContractExpired follows, and the calendar's successor is listed through
   * its own stream. Without an index value the instrument's end of day fails and posts nothing.
   * A trade date already settled changes nothing; an earlier trade date than one settled is refused.
   * A failure is logged once per trade date and reason (EndOfDayFailed says why).
   */
  private async cutoff(
    ctx: BatchContext,
    symbol: string,
    engine: MatchingEngine,
    p: Record<string, unknown>,
    commandAt: string,
    command: { actor: string; correlationId: string; eventId: string },
  ): Promise<CutoffResult> {
    const stream = streamOf(symbol);
    const tradeDate = String(p.tradeDate ?? '');
    const at = sequenceTime(engine.time, p.eventTime ?? commandAt);
    const nothing: CutoffResult = { before: [], after: [], outcome: 'unchanged' };
    // The stream as logged plus what this batch has emitted so far (not committed yet).
    const logged = await sql<{ stream_seq: string; type: string; payload: Record<string, unknown> }>(
      ctx.manager,
      `SELECT stream_seq, type, payload FROM event_log WHERE stream = $1
         AND stream_seq >= COALESCE((SELECT max(stream_seq) FROM event_log WHERE stream = $1 AND type IN ('SessionRolled', 'InstrumentListed')), 0)
         AND type IN ('SessionRolled', 'InstrumentListed', 'Trade')
       UNION ALL
       SELECT stream_seq, type, payload FROM event_log WHERE stream = $1 AND type IN ('SettlementPriceSet', 'EndOfDayFailed', 'ContractExpired')
       ORDER BY stream_seq`,
      [stream],
    );
    const events = [
      ...logged.rows.map((r) => ({ type: r.type, payload: r.payload })),
      ...ctx.out.events.filter((e) => e.stream === stream).map((e) => ({ type: e.type, payload: e.payload as Record<string, unknown> })),
    ];
    const settledDates: string[] = [];
    let lastSettledAt: string | null = null;
    let expired = false;
    const failures = new Set<string>();
    let trades: SessionTrade[] = [];
    for (const e of events) {
      if (e.type === 'SettlementPriceSet') {
        settledDates.push(String(e.payload.tradeDate));
        lastSettledAt = String(e.payload.at);
      } else if (e.type === 'ContractExpired') expired = true;
      else if (e.type === 'EndOfDayFailed') failures.add(`${String(e.payload.tradeDate)}|${String(e.payload.code)}`);
      else if (e.type === 'SessionRolled' || e.type === 'InstrumentListed') trades = [];
      else if (e.type === 'Trade') {
        const t = eventFromWire(e.payload) as unknown as { price: number; qty: number; at: number };
        trades.push({ priceTicks: t.price, qty: t.qty, atMs: t.at });
      }
    }
    if (expired || settledDates.includes(tradeDate)) return nothing; // already settled: nothing changes
    // A failure already logged for this trade date is not logged again when the run is repeated.
    // A logged failure moves the book's clock to the cut-off, as re-driving the log does on recovery.
    const failed = (code: string, message: string) => {
      if (failures.has(`${tradeDate}|${code}`)) return { ...nothing, outcome: 'failed' } as CutoffResult;
      engine.advanceTime(at);
      return { before: [{ type: 'EndOfDayFailed', at: formatInstant(at), tradeDate, instrument: symbol, code, message }], after: [], outcome: 'failed' } as CutoffResult;
    };
    const latest = settledDates.sort()[settledDates.length - 1];
    if (latest !== undefined && tradeDate < latest) {
      return failed('OUT_OF_ORDER', `end of day for ${tradeDate} refused: ${symbol} is already settled for the later trade date ${latest}`);
    }
    const product = this.catalog.forSymbol(symbol);
    if (!product) return failed('UNKNOWN_PRODUCT', `${symbol}: no product; nothing posted`);
    const ltd = lastTradingDay(symbol, this.catalog);
    // On the last trading day, or after it if the final settlement has not succeeded yet (a failed
    // run on the day): a contract past its last trading day only ever settles against the index.
    const final = tradeDate >= ltd;
    const o = p.override as { price?: unknown; reason?: unknown } | undefined | null;
    let override: { priceTicks: number; reason: string } | null = null;
    if (o) {
      const price = parsePriceToTicks(String(o.price), product.tickCents);
      if (!price.ok) return failed('INVALID_OVERRIDE', `${symbol}: override price ${String(o.price)} is not a price in whole ticks; nothing posted`);
      override = { priceTicks: price.ticks, reason: String(o.reason ?? '') };
    }
    let finalTicks: number | null = null;
    if (final && !override) {
      const value = await latestIndexValue(ctx.manager, product, lastSettledAt, formatInstant(at));
      if (value === null) {
        return failed('NO_FINAL_PRICE', `${symbol}: no ${product.settlementIndex} value published this session on its last trading day ${ltd}; nothing posted`);
      }
      try {
        finalTicks = finalSettlementTicks(formatE4(value), product.tickCents);
      } catch (e) {
        // A value below half a tick is not a price (e.g. 0.0040 -> 0 ticks).
        if (!(e instanceof RangeError)) throw e;
        return failed('NO_FINAL_PRICE', `${symbol}: ${product.settlementIndex} value ${formatE4(value)} is not a price: ${e.message}; nothing posted`);
      }
    }
    let sp;
    try {
      sp = settlementPrice({ previousTicks: engine.referencePrice, cutoffMs: at, trades, override, lastTradingDay: final, finalTicks });
    } catch (e) {
      if (e instanceof SettlementError) return failed(e.code, `${symbol}: ${e.message}; nothing posted`);
      throw e;
    }
    const set = eventToWire({
      type: 'SettlementPriceSet',
      at,
      tradeDate,
      instrument: symbol,
      price: sp.priceTicks,
      previousPrice: engine.referencePrice,
      method: sp.method,
      ...(sp.reason ? { reason: sp.reason } : {}),
    } as never) as Record<string, unknown>;
    if (!final) {
      // The roll's events (expiries, cancels, SessionRolled) follow SettlementPriceSet in the stream.
      engine.rollSession(sp.priceTicks, at);
      return { before: [set], after: [], outcome: 'settled' };
    }
    // Final settlement: the book closes (its cancels and BookClosed follow SettlementPriceSet), the
    // contract expires, and the successor is listed.
    engine.expireAll(at);
    await sql(ctx.manager, `UPDATE instruments SET status = 'expired' WHERE symbol = $1`, [symbol]);
    const expiredEvent = eventToWire({ type: 'ContractExpired', at, instrument: symbol, tradeDate, finalPrice: sp.priceTicks } as never) as Record<string, unknown>;
    await this.listSuccessors(ctx, symbol, product, ltd, tradeDate, at, command);
    return { before: [set], after: [expiredEvent], outcome: 'settled' };
  }

  /**
   * After an expiry, sends ListInstrument for what the calendar adds (SPEC §3), with the product's
   * latest index value as reference price, to the successor's own stream. The command is sent
   * through the outbox in this batch's transaction: it is sent exactly when the expiry commits.
   * The listing carries the trade date whose end of day made it, so that day's end of day (risk's
   * calls, progress) does not wait for an instrument that had no session that day.
   */
  private async listSuccessors(
    ctx: BatchContext,
    expired: string,
    product: ProductSpec,
    ltd: string,
    tradeDate: string,
    at: number,
    command: { actor: string; correlationId: string; eventId: string },
  ): Promise<void> {
    const value = await latestIndexValue(ctx.manager, product, null, formatInstant(at));
    if (value === null) return; // an override settled it and no index exists: operations list it
    let ref: number;
    try {
      ref = finalSettlementTicks(formatE4(value), product.tickCents);
    } catch {
      return;
    }
    const stream = `matching-listings:${expired}`;
    await this.heads.load(ctx.manager, [stream]);
    for (const change of listingChanges(product, ltd, addDays(ltd, 1))) {
      for (const symbol of change.listed) {
        const exists = await sql(ctx.manager, 'SELECT 1 FROM instruments WHERE symbol = $1', [symbol]);
        if (exists.rows.length) continue;
        ctx.out.command(
          stream,
          'ListInstrument',
          {
            instrument: symbol,
            referencePrice: formatTicks(ref),
            lastTradingDay: lastTradingDay(symbol, this.catalog),
            source: 'index',
            listedAfterEndOfDay: tradeDate,
            eventTime: formatInstant(at),
          },
          { at: formatInstant(at), actor: 'system:matching', correlationId: command.correlationId, causationId: command.eventId },
          { topic: topicName('matchingCommands'), key: symbol },
        );
      }
    }
  }

  private execute(engine: MatchingEngine, type: string, p: Record<string, unknown>): void {
    const at = sequenceTime(engine.time, p.eventTime);
    switch (type) {
      case 'NewOrder': {
        const price = p.price === null || p.price === undefined ? null : parsePriceToTicks(String(p.price));
        const order: NewOrder = {
          account: String(p.account),
          clientOrderId: String(p.clientOrderId),
          side: p.side as NewOrder['side'],
          type: p.type as NewOrder['type'],
          tif: p.tif as NewOrder['tif'],
          price: price === null ? null : price.ok ? price.ticks : NaN,
          qty: Number(p.qty),
        };
        engine.submit(order, at);
        break;
      }
      case 'CancelOrder':
        engine.cancel(String(p.account), String(p.clientOrderId), at);
        break;
      case 'ReplaceOrder': {
        const price = parsePriceToTicks(String(p.price));
        engine.replace(String(p.account), String(p.clientOrderId), price.ok ? price.ticks : NaN, Number(p.qty), at);
        break;
      }
      case 'Clock': {
        const requested = Date.parse(String(p.at));
        engine.advanceTime(Math.max(engine.time, Number.isFinite(requested) ? requested : engine.time));
        break;
      }
      default:
        throw new Error(`matching: unknown command ${type}`);
    }
  }

  /** Lists an instrument: creates its book and records it. Listing twice changes nothing. */
  private async list(manager: EntityManager, symbol: string, p: Record<string, unknown>, commandAt: string): Promise<Record<string, unknown>[]> {
    if (this.books.has(symbol) || (await this.loadBook(manager, symbol))) return [];
    const product = this.catalog.forSymbol(symbol);
    const price = parsePriceToTicks(String(p.referencePrice), product?.tickCents ?? 1);
    if (!product || !price.ok) return [];
    const at = sequenceTime(0, p.eventTime ?? commandAt);
    const listed = {
      type: 'InstrumentListed',
      at: formatInstant(at),
      instrument: symbol,
      product: product.code,
      referencePrice: formatTicks(price.ticks),
      lastTradingDay: String(p.lastTradingDay),
      source: String(p.source ?? 'operations'),
      ...(typeof p.listedAfterEndOfDay === 'string' ? { listedAfterEndOfDay: p.listedAfterEndOfDay } : {}),
    };
    const engine = this.newEngine(symbol, price.ticks);
    // The book's clock starts at its listing: no order can be stamped before it.
    engine.advanceTime(at);
    this.books.set(symbol, { engine, eventsSinceSnapshot: 0 });
    await sql(
      manager,
      `INSERT INTO instruments (symbol, product, reference_price, last_trading_day, status, listed_at, listed_after_eod) VALUES ($1, $2, $3, $4, 'listed', $5, $6)
       ON CONFLICT (symbol) DO NOTHING`,
      [symbol, product.code, price.ticks, listed.lastTradingDay, listed.at, listed.listedAfterEndOfDay ?? null],
    );
    return [listed];
  }

  /**
   * After a commit: a tier-1 halt's end becomes a Clock command, sequenced like any other.
   *
   * Not in a rehearsal: with the event-time facility on (CH_ALLOW_EVENT_TIME=1) the commands' own
   * times are the clock, and a wall-clock timer would end a halt of the scenario's past at once,
   * ahead of the scenario's orders still inside it. The halt then ends exactly at its end when the
   * book's next command is sequenced at or after it, as in the in-process rulebook.
   * MATCHING_HALT_TIMERS=on|off overrides the choice (docs/decisions/0004-event-time-facility.md).
   */
  armTimers(): void {
    if (!haltTimersOn()) return;
    for (const [symbol, book] of this.books) {
      const h = book.engine.halt();
      const key = `${symbol}:${h?.start}`;
      if (!h || h.end === null || this.timers.has(key)) continue;
      const delay = Math.max(0, h.end - Date.now());
      const end = h.end;
      const t = setTimeout(() => {
        this.timers.delete(key);
        const env = {
          eventId: randomUUID(),
          type: 'Clock',
          version: 1,
          // One clock per halt: its own stream, so a re-armed timer after a restart is deduplicated.
          stream: `clock:${symbol}:${h.start}`,
          streamSeq: 1,
          at: formatInstant(end),
          actor: 'system:matching',
          correlationId: `halt:${symbol}:${h.start}`,
          causationId: null,
          source: null,
          payload: { instrument: symbol, at: formatInstant(end) },
        };
        this.producer.send(topicName('matchingCommands'), [{ key: symbol, value: encodeEnvelope(env) }]).catch((e) => {
          process.stderr.write(`matching: could not sequence the halt's end for ${symbol}: ${String(e)}\n`);
        });
      }, delay);
      t.unref();
      this.timers.set(key, t);
    }
  }

  stopTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Replaced after a failed batch (its books hold uncommitted state): no more timers, no reader left waiting. */
  abandon(): void {
    this.stopTimers();
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function haltTimersOn(): boolean {
  const v = process.env.MATCHING_HALT_TIMERS;
  if (v === 'on' || v === 'off') return v === 'on';
  return process.env.CH_ALLOW_EVENT_TIME !== '1';
}

function commandKind(type: string): 'new' | 'replace' | 'cancel' {
  return type === 'CancelOrder' ? 'cancel' : type === 'ReplaceOrder' ? 'replace' : 'new';
}

async function writeMarketData(manager: EntityManager, symbol: string, engine: MatchingEngine): Promise<void> {
  const band = engine.activeBand();
  const halt = engine.halt();
  const depth = engine.depth(10);
  await sql(
    manager,
    `INSERT INTO market_data (symbol, session_state, band_tier, band_lo, band_hi, reference_price, last_price, depth, halt, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (symbol) DO UPDATE SET session_state = EXCLUDED.session_state, band_tier = EXCLUDED.band_tier, band_lo = EXCLUDED.band_lo,
       band_hi = EXCLUDED.band_hi, reference_price = EXCLUDED.reference_price, last_price = EXCLUDED.last_price, depth = EXCLUDED.depth,
       halt = EXCLUDED.halt, updated_at = EXCLUDED.updated_at`,
    [
      symbol,
      engine.sessionState(),
      band.tier,
      band.lo,
      band.hi,
      engine.referencePrice,
      engine.lastTradePrice(),
      JSON.stringify(depth),
      halt ? JSON.stringify({ tier: halt.tier, start: formatInstant(halt.start), end: halt.end === null ? null : formatInstant(halt.end) }) : null,
      formatInstant(engine.time || 0),
    ],
  );
}

/**
 * The latest value of the product's settlement index published after `sinceExclusive` (the
 * previous end of day's cut-off; null: any) and at or before `until`, in 1e-4 USD; null if none.
 * Publications at the same instant are ordered by their place in the log.
 */
async function latestIndexValue(manager: EntityManager, product: ProductSpec, sinceExclusive: string | null, until: string): Promise<number | null> {
  const r = await sql<{ value_e4: string }>(
    manager,
    `SELECT value_e4 FROM index_values WHERE index_code = $1 AND at <= $2 AND ($3::timestamptz IS NULL OR at > $3::timestamptz)
     ORDER BY at DESC, seq DESC LIMIT 1`,
    [product.settlementIndex, until, sinceExclusive],
  );
  return r.rows.length ? Number(r.rows[0].value_e4) : null;
}

/** What a run's Cutoff did to the instrument, for the run's progress (eod_cutoffs). */
async function recordCutoff(manager: EntityManager, p: Record<string, unknown>, symbol: string, outcome: CutoffResult['outcome'], at: number): Promise<void> {
  if (typeof p.runId !== 'string' || typeof p.tradeDate !== 'string') return;
  await sql(
    manager,
    `INSERT INTO eod_cutoffs (run_id, instrument, trade_date, outcome, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, instrument) DO NOTHING`,
    [p.runId, symbol, p.tradeDate, outcome, formatInstant(at || 0)],
  );
}
