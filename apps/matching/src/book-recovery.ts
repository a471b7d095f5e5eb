/**
 * Recovery of a book: its latest snapshot plus the tail of its own stream in the event log,
 * re-driven through the engine (the input facts OrderAccepted, OrderReplaced, member cancels,
 * resumptions, rolls and expiry reproduce every derived fact, because the engine is
 * deterministic). The regenerated events are discarded: they are already in the log.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { MatchingEngine, type MatchingEvent, type MatchingEventType } from '@ch/matching';
import { eventFromWire, type RulebookEvent } from '@ch/messages';
import { redrive } from '@ch/rulebook';
import { loadLatestSnapshot, sql } from '@ch/persistence';

export const streamOf = (symbol: string): string => `matching:${symbol}`;

export interface Book {
  engine: MatchingEngine;
  /** The tick in cents of the instrument's product: what its commands' prices are parsed in. */
  readonly tickCents: number;
  eventsSinceSnapshot: number;
}

/**
 * Where the engines' events go: the list of the command being processed (null: nowhere). One sink
 * for every book, set around each command, so the per-order path allocates nothing for it.
 */
export class EventSink {
  target: MatchingEvent[] | null = null;
  readonly push = (e: MatchingEvent): void => {
    this.target?.push(e);
  };
}

export function newEngine(symbol: string, referencePrice: number, sink: EventSink): MatchingEngine {
  return new MatchingEngine({ instrument: symbol, referencePrice, sink: sink.push });
}

/** The book of `symbol` as of the log (snapshot + tail); undefined when it was never listed. */
export async function recoverBook(db: DataSource | EntityManager, symbol: string, sink: EventSink): Promise<MatchingEngine | undefined> {
  const stream = streamOf(symbol);
  const snap = await loadLatestSnapshot<ReturnType<MatchingEngine['snapshot']>>(db, stream);
  let engine: MatchingEngine | null = snap ? MatchingEngine.restore(snap.state, sink.push) : null;
  let position = snap?.position ?? 0;
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
      const e = eventFromWire(row.payload);
      if (e.type === 'InstrumentListed') {
        engine = newEngine(symbol, e.referencePrice, sink);
        engine.advanceTime(e.at);
        continue;
      }
      if (!engine) continue;
      sink.target = discard;
      if (isEngineFact(e)) redrive(engine, e);
      // A derived fact of a command that changed nothing else (a rejection) still moved the
      // book's clock: keep it, so the stream's event time never comes back earlier after a restart.
      if (e.at > engine.time) engine.advanceTime(e.at);
      sink.target = null;
      discard.length = 0;
    }
  }
  return engine ?? undefined;
}

/** The engine's event types (the compiler requires every one): the facts `redrive` may feed back. */
const ENGINE_FACTS: { readonly [T in MatchingEventType]: true } = {
  OrderAccepted: true,
  OrderRejected: true,
  Trade: true,
  OrderCancelled: true,
  OrderExpired: true,
  OrderReplaced: true,
  MarketHalted: true,
  MarketResumed: true,
  SessionRolled: true,
  BookClosed: true,
};

/** An engine's event, as opposed to matching's own facts in the stream (settlement, expiry, failures). */
function isEngineFact(e: RulebookEvent): e is MatchingEvent {
  return Object.hasOwn(ENGINE_FACTS, e.type);
}
