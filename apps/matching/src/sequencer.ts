/**
 * The matching service's core loop: one sequencer per instrument. Commands arrive on
 * matching-commands (one partition holds every command of an instrument, so this single consumer
 * is the only writer of each book); each is stamped with event time, run through the pure engine,
 * and its events are logged, published on matching-events and projected (orders, market data,
 * instruments), all in the batch's transaction.
 *
 * By concern: recovery of a book (book-recovery.ts), the cut-off (cutoff.ts, over the pure
 * decider in libs/domain), listing (listing.ts), halt timers (halt-timers.ts) and the market-data
 * projection (market-data.ts). Snapshots are taken every SNAPSHOT_EVERY events of a stream.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { parsePriceToTicks, ProductCatalog } from '@ch/domain';
import type { MatchingEngine, MatchingEvent, NewOrder } from '@ch/matching';
import { eventToWire, formatInstant } from '@ch/rulebook';
import { saveSnapshot, sql } from '@ch/persistence';
import { topicName } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming, type StreamHeads } from '@ch/runtime';
import type { Producer } from '@ch/kafka';
import { OrderProjection } from './order-projection';
import { EventSink, recoverBook, streamOf, type Book } from './book-recovery';
import { recordCutoff, runCutoff } from './cutoff';
import { HaltTimers } from './halt-timers';
import { listInstrument } from './listing';
import { writeMarketData } from './market-data';

export const SNAPSHOT_EVERY = Number(process.env.MATCHING_SNAPSHOT_EVERY ?? 2000);

export class Sequencer {
  private readonly books = new Map<string, Book>();
  private readonly catalog = new ProductCatalog();
  private readonly timers: HaltTimers;
  /** Events of the command being processed, collected by the engines' sink. */
  private readonly sink = new EventSink();
  /** A batch is being applied: the books hold state that is not committed yet. */
  private busy = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly heads: StreamHeads,
    producer: Producer,
  ) {
    this.timers = new HaltTimers(producer);
  }

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
    this.releaseWaiters();
    this.armTimers();
  }

  private releaseWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async loadBook(db: DataSource | EntityManager, symbol: string): Promise<Book | undefined> {
    const existing = this.books.get(symbol);
    if (existing) return existing;
    const engine = await recoverBook(db, symbol, this.sink);
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
      this.sink.target = collected;
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
            collected.push({
              type: 'OrderRejected',
              instrument: symbol,
              at: Date.parse(env.at),
              command: commandKind(env.type),
              account: (p.account as string) ?? null,
              clientOrderId: (p.clientOrderId as string) ?? null,
              orderId: null,
              reason: 'UNKNOWN_INSTRUMENT',
            } as unknown as MatchingEvent);
          } else if (env.type === 'Cutoff') {
            const r = await runCutoff(ctx, this.heads, this.catalog, symbol, book.engine, p, env.at, env);
            extra = r.before;
            trailing = r.after;
            await recordCutoff(ctx.manager, p, symbol, r.outcome, book.engine.time);
          } else {
            execute(book.engine, env.type, p);
          }
        }
      } finally {
        this.sink.target = null;
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

  /** Lists an instrument: creates its book and records it. Listing twice changes nothing. */
  private async list(manager: EntityManager, symbol: string, p: Record<string, unknown>, commandAt: string): Promise<Record<string, unknown>[]> {
    if (this.books.has(symbol) || (await this.loadBook(manager, symbol))) return [];
    const r = await listInstrument(manager, this.catalog, this.sink, symbol, p, commandAt);
    if (!r) return [];
    this.books.set(symbol, { engine: r.engine, eventsSinceSnapshot: 0 });
    return [r.listed];
  }

  /** After a commit: a tier-1 halt's end becomes a Clock command (halt-timers.ts). */
  armTimers(): void {
    this.timers.arm(this.books);
  }

  stopTimers(): void {
    this.timers.stop();
  }

  /** Replaced after a failed batch (its books hold uncommitted state): no more timers, no reader left waiting. */
  abandon(): void {
    this.stopTimers();
    this.busy = false;
    this.releaseWaiters();
  }
}

/** Runs one order-entry or clock command through the book: the per-order hot path. */
function execute(engine: MatchingEngine, type: string, p: Record<string, unknown>): void {
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

function commandKind(type: string): 'new' | 'replace' | 'cancel' {
  return type === 'CancelOrder' ? 'cancel' : type === 'ReplaceOrder' ? 'replace' : 'new';
}
