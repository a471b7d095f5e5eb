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
import { formatTicks, parsePriceToTicks, ProductCatalog, settlementPrice, SettlementError, type SessionTrade } from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type NewOrder } from '@ch/matching';
import { eventFromWire, eventToWire, formatInstant, redrive } from '@ch/rulebook';
import { loadLatestSnapshot, saveSnapshot, sql } from '@ch/persistence';
import { topicName } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming, type StreamHeads } from '@ch/runtime';
import type { Producer } from '@ch/kafka';
import { encodeEnvelope } from '@ch/messages';
import { randomUUID } from 'node:crypto';
import { OrderProjection } from './order-projection';

export const SNAPSHOT_EVERY = Number(process.env.MATCHING_SNAPSHOT_EVERY ?? 2000);

const streamOf = (symbol: string): string => `matching:${symbol}`;

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
      try {
        if (env.type === 'ListInstrument') {
          extra = await this.list(ctx.manager, symbol, p, env.at);
        } else {
          const book = await this.loadBook(ctx.manager, symbol);
          if (!book) {
            // Intake checks instruments before publishing; a command for an unknown book is refused.
            collected.push({ type: 'OrderRejected', instrument: symbol, at: Date.parse(env.at), command: commandKind(env.type), account: (p.account as string) ?? null, clientOrderId: (p.clientOrderId as string) ?? null, orderId: null, reason: 'UNKNOWN_INSTRUMENT' } as unknown as MatchingEvent);
          } else if (env.type === 'Cutoff') {
            extra = await this.cutoff(ctx, symbol, book.engine, p, env.at);
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
      const book = this.books.get(symbol);
      if (book) book.eventsSinceSnapshot += collected.length;
      if (collected.length || extra.length) touched.add(symbol);
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
   * End of day for one instrument (SPEC §7, docs/decisions/0006-end-of-day.md): the cut-off is
   * sequenced in the instrument's own stream, so the session's trades are exactly the Trade events
   * of the stream since its last SessionRolled (or its listing). Sets the settlement price
   * (override > VWAP of the last 30 minutes > last > previous) and rolls the session. A trade date
   * already settled changes nothing; an earlier trade date than one settled, or the contract's
   * last trading day (final settlement is not run through the services yet), is refused with an
   * EndOfDayFailed event that says why.
   */
  private async cutoff(ctx: BatchContext, symbol: string, engine: MatchingEngine, p: Record<string, unknown>, commandAt: string): Promise<Record<string, unknown>[]> {
    const stream = streamOf(symbol);
    const tradeDate = String(p.tradeDate ?? '');
    const at = sequenceTime(engine.time, p.eventTime ?? commandAt);
    // The stream as logged plus what this batch has emitted so far (not committed yet).
    const logged = await sql<{ stream_seq: string; type: string; payload: Record<string, unknown> }>(
      ctx.manager,
      `SELECT stream_seq, type, payload FROM event_log WHERE stream = $1
         AND stream_seq >= COALESCE((SELECT max(stream_seq) FROM event_log WHERE stream = $1 AND type IN ('SessionRolled', 'InstrumentListed')), 0)
         AND type IN ('SessionRolled', 'InstrumentListed', 'Trade')
       UNION ALL
       SELECT stream_seq, type, payload FROM event_log WHERE stream = $1 AND type IN ('SettlementPriceSet', 'EndOfDayFailed')
       ORDER BY stream_seq`,
      [stream],
    );
    const events = [
      ...logged.rows.map((r) => ({ type: r.type, payload: r.payload })),
      ...ctx.out.events.filter((e) => e.stream === stream).map((e) => ({ type: e.type, payload: e.payload as Record<string, unknown> })),
    ];
    const settledDates: string[] = [];
    const failures = new Set<string>();
    let trades: SessionTrade[] = [];
    for (const e of events) {
      if (e.type === 'SettlementPriceSet') settledDates.push(String(e.payload.tradeDate));
      else if (e.type === 'EndOfDayFailed') failures.add(`${String(e.payload.tradeDate)}|${String(e.payload.code)}`);
      else if (e.type === 'SessionRolled' || e.type === 'InstrumentListed') trades = [];
      else if (e.type === 'Trade') {
        const t = eventFromWire(e.payload) as unknown as { price: number; qty: number; at: number };
        trades.push({ priceTicks: t.price, qty: t.qty, atMs: t.at });
      }
    }
    if (settledDates.includes(tradeDate)) return []; // already settled: nothing changes
    // A failure already logged for this trade date is not logged again when the run is repeated.
    // A logged failure moves the book's clock to the cut-off, as re-driving the log does on recovery.
    const failed = (code: string, message: string) => {
      if (failures.has(`${tradeDate}|${code}`)) return [];
      engine.advanceTime(at);
      return [{ type: 'EndOfDayFailed', at: formatInstant(at), tradeDate, instrument: symbol, code, message }];
    };
    const latest = settledDates.sort()[settledDates.length - 1];
    if (latest !== undefined && tradeDate < latest) {
      return failed('OUT_OF_ORDER', `end of day for ${tradeDate} refused: ${symbol} is already settled for the later trade date ${latest}`);
    }
    const inst = await sql<{ last_trading_day: string }>(ctx.manager, `SELECT to_char(last_trading_day, 'YYYY-MM-DD') AS last_trading_day FROM instruments WHERE symbol = $1`, [symbol]);
    const ltd = inst.rows[0]?.last_trading_day;
    if (ltd !== undefined && tradeDate >= ltd) {
      return failed('FINAL_SETTLEMENT_NOT_SUPPORTED', `${symbol}: ${tradeDate} is on or after its last trading day ${ltd}; final settlement is not run through the services yet; nothing posted`);
    }
    const product = this.catalog.forSymbol(symbol);
    const o = p.override as { price?: unknown; reason?: unknown } | undefined | null;
    let override: { priceTicks: number; reason: string } | null = null;
    if (o) {
      const price = parsePriceToTicks(String(o.price), product?.tickCents ?? 1);
      if (!price.ok) return failed('INVALID_OVERRIDE', `${symbol}: override price ${String(o.price)} is not a price in whole ticks; nothing posted`);
      override = { priceTicks: price.ticks, reason: String(o.reason ?? '') };
    }
    let sp;
    try {
      sp = settlementPrice({ previousTicks: engine.referencePrice, cutoffMs: at, trades, override });
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
    // The roll's events (expiries, cancels, SessionRolled) follow SettlementPriceSet in the stream.
    engine.rollSession(sp.priceTicks, at);
    return [set];
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
    };
    const engine = this.newEngine(symbol, price.ticks);
    // The book's clock starts at its listing: no order can be stamped before it.
    engine.advanceTime(at);
    this.books.set(symbol, { engine, eventsSinceSnapshot: 0 });
    await sql(
      manager,
      `INSERT INTO instruments (symbol, product, reference_price, last_trading_day, status, listed_at) VALUES ($1, $2, $3, $4, 'listed', $5)
       ON CONFLICT (symbol) DO NOTHING`,
      [symbol, product.code, price.ticks, listed.lastTradingDay, listed.at],
    );
    return [listed];
  }

  /** After a commit: a tier-1 halt's end becomes a Clock command, sequenced like any other. */
  armTimers(): void {
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

