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
import { saveSnapshot, sql } from '@ch/persistence';
import {
  assertNever,
  commandPayload,
  eventToWire,
  formatInstant,
  topicName,
  type CancelOrder,
  type Clock,
  type Cutoff,
  type ListInstrument,
  type MatchingStreamEvent,
  type NewOrderCommand,
  type ReplaceOrder,
} from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming, type StreamHeads } from '@ch/runtime';
import type { Producer } from '@ch/kafka';
import { type OrderProjection } from './order-projection';
import { EventSink, recoverBook, streamOf, type Book } from './book-recovery';
import { recordCutoff, runCutoff } from './cutoff';
import { HaltTimers } from './halt-timers';
import { listInstrument, type ListCommand } from './listing';
import { writeMarketData } from './market-data';

/** Every command matching takes (matching-commands). */
export type MatchingCommand = NewOrderCommand | CancelOrder | ReplaceOrder | ListInstrument | Cutoff | Clock;
/** The commands that run through a book as they are (the per-order hot path). */
type BookCommand = NewOrderCommand | CancelOrder | ReplaceOrder | Clock;
/** An envelope as `execute` reads it: its type and its payload. */
interface Command {
  readonly type: string;
  readonly payload: unknown;
}

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
    const book = { engine, tickCents: this.tickOf(symbol), eventsSinceSnapshot: 0 };
    this.books.set(symbol, book);
    return book;
  }

  /** The tick in cents of the instrument's product: what its command prices are parsed in. */
  private tickOf(symbol: string): number {
    return this.catalog.forSymbol(symbol)?.tickCents ?? 1;
  }

  /** Applies one batch of commands (in partition order). */
  async handle(messages: Incoming[], ctx: BatchContext, projection: OrderProjection): Promise<void> {
    this.busy = true;
    const touched = new Set<string>();
    const eventsTopic = topicName('matchingEvents');
    for (const m of messages) {
      const env = m.envelope;
      const symbol = instrumentOf(env.payload);
      const stream = streamOf(symbol);
      await this.heads.load(ctx.manager, [stream]);
      const collected: MatchingEvent[] = [];
      this.sink.target = collected;
      /** Matching's own facts logged before the engine's events of the command (a listing, a settlement price, a failure). */
      let extra: readonly MatchingStreamEvent[] = [];
      /** Facts that follow the engine's events of the command (a contract's expiry). */
      let trailing: readonly MatchingStreamEvent[] = [];
      try {
        if (env.type === 'ListInstrument') {
          extra = await this.list(ctx.manager, symbol, commandPayload(env, 'ListInstrument'), env.at);
        } else {
          const book = await this.loadBook(ctx.manager, symbol);
          if (!book) {
            // Intake checks instruments before publishing; a command for an unknown book is refused.
            extra = [unknownInstrument(symbol, env)];
          } else if (env.type === 'Cutoff') {
            const p = commandPayload(env, 'Cutoff');
            const r = await runCutoff(ctx, this.heads, this.catalog, symbol, book.engine, p, env.at, env);
            extra = r.before;
            trailing = r.after;
            await recordCutoff(ctx.manager, p, symbol, r.outcome, book.engine.time);
          } else {
            execute(book.engine, book.tickCents, env);
          }
        }
      } finally {
        this.sink.target = null;
      }
      const meta = { actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
      const publish = [{ topic: eventsTopic, key: symbol }];
      for (const e of extra) {
        emit(ctx, stream, e, meta, publish);
        // A refused new order is an order row (status rejected), as the engine's refusals are.
        if (e.type === 'OrderRejected') projection.apply(e);
      }
      for (const e of collected) {
        emit(ctx, stream, e, meta, publish);
        projection.apply(e);
      }
      for (const e of trailing) emit(ctx, stream, e, meta, publish);
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
  private async list(manager: EntityManager, symbol: string, p: ListCommand, commandAt: string): Promise<MatchingStreamEvent[]> {
    if (this.books.has(symbol) || (await this.loadBook(manager, symbol))) return [];
    const r = await listInstrument(manager, this.catalog, this.sink, symbol, p, commandAt);
    if (!r) return [];
    this.books.set(symbol, { engine: r.engine, tickCents: r.tickCents, eventsSinceSnapshot: 0 });
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

/** The instrument a command names ('' when none: refused as an unknown instrument). */
function instrumentOf(payload: unknown): string {
  const instrument = (payload as { readonly instrument?: unknown } | null)?.instrument;
  return typeof instrument === 'string' ? instrument : '';
}

/** Logs one of the stream's events and publishes it on matching-events, in the codec's wire form. */
function emit(
  ctx: BatchContext,
  stream: string,
  e: MatchingStreamEvent,
  meta: { actor: string; correlationId: string; causationId: string; source: string | null },
  publish: { topic: string; key: string }[],
): void {
  ctx.out.event(stream, e.type, eventToWire(e), { ...meta, at: formatInstant(e.at) }, publish);
}

/** The refusal of a command for an instrument that has no book (SPEC §4 UNKNOWN_INSTRUMENT). */
function unknownInstrument(symbol: string, env: Command & { readonly at: string }): MatchingStreamEvent {
  const p = env.payload as { readonly account?: unknown; readonly clientOrderId?: unknown } | null;
  return {
    type: 'OrderRejected',
    instrument: symbol,
    at: Date.parse(env.at),
    command: env.type === 'CancelOrder' ? 'cancel' : env.type === 'ReplaceOrder' ? 'replace' : 'new',
    account: typeof p?.account === 'string' ? p.account : null,
    clientOrderId: typeof p?.clientOrderId === 'string' ? p.clientOrderId : null,
    orderId: null,
    reason: 'UNKNOWN_INSTRUMENT',
  };
}

/**
 * Runs one order-entry or clock command through the book: the per-order hot path. Prices are
 * parsed in the product's tick (`tickCents`); a malformed one reaches the engine as NaN, which
 * refuses it (INVALID_ORDER).
 */
export function execute(engine: MatchingEngine, tickCents: number, env: Command): void {
  const type = env.type as BookCommand['type'];
  switch (type) {
    case 'NewOrder': {
      const p = commandPayload(env, type);
      const price = p.price === null || p.price === undefined ? null : parsePriceToTicks(p.price, tickCents);
      const order: NewOrder = {
        account: p.account,
        clientOrderId: p.clientOrderId,
        side: p.side,
        type: p.type,
        tif: p.tif,
        price: price === null ? null : price.ok ? price.ticks : NaN,
        qty: p.qty,
      };
      engine.submit(order, sequenceTime(engine.time, p.eventTime));
      break;
    }
    case 'CancelOrder': {
      const p = commandPayload(env, type);
      engine.cancel(p.account, p.clientOrderId, sequenceTime(engine.time, p.eventTime));
      break;
    }
    case 'ReplaceOrder': {
      const p = commandPayload(env, type);
      const price = parsePriceToTicks(p.price, tickCents);
      engine.replace(p.account, p.clientOrderId, price.ok ? price.ticks : NaN, p.qty, sequenceTime(engine.time, p.eventTime));
      break;
    }
    case 'Clock': {
      const p = commandPayload(env, type);
      const requested = Date.parse(p.at);
      engine.advanceTime(Math.max(engine.time, Number.isFinite(requested) ? requested : engine.time));
      break;
    }
    default:
      assertNever(type, 'matching command type');
  }
}
