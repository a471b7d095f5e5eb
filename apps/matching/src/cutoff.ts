/**
 * End of day for one instrument (SPEC §7, §8; docs/decisions/0006, 0007, 0018): the cut-off is
 * sequenced in the instrument's own stream, so the session's trades are exactly the Trade events
 * of the stream since its last SessionRolled (or its listing). This shell fetches the stream's
 * history and the index's candidate values, asks the pure decider (decideCutoff in
 * libs/domain/src/contracts/cutoff.ts, the same the Rulebook asks) and applies its decision:
 * settle and roll the session; or settle finally, close the book, expire the contract and list
 * the successors; or log the failure (once per trade date and reason); or nothing.
 */
import type { EntityManager } from 'typeorm';
import {
  decideCutoff,
  evolveCutoffState,
  initialCutoffState,
  isFinalSettlementDay,
  lastTradingDay,
  type CutoffFact,
  type MutableCutoffState,
  type ProductCatalog,
} from '@ch/domain';
import type { MatchingEngine } from '@ch/matching';
import {
  decodeEvent,
  formatInstant,
  type CommandPayload,
  type ContractExpired,
  type EndOfDayFailed,
  type MatchingStreamEvent,
  type SettlementPriceSet,
} from '@ch/messages';
import { sql } from '@ch/persistence';
import { sequenceTime, type BatchContext, type StreamHeads } from '@ch/runtime';
import { streamOf } from './book-recovery';
import { sessionIndexValues } from './index-values';
import { listSuccessors, type CausingCommand } from './listing';

/** A Cutoff command's payload. */
export type CutoffCommand = CommandPayload<'Cutoff'>;

export interface CutoffResult {
  /** Logged before the engine's events of the cut-off (SettlementPriceSet, EndOfDayFailed). */
  before: MatchingStreamEvent[];
  /** Logged after them (ContractExpired follows the book's closing cancels). */
  after: MatchingStreamEvent[];
  /** For the run's progress: settled now, failed (now or before), or nothing to do. */
  outcome: 'settled' | 'failed' | 'unchanged';
}

export async function runCutoff(
  ctx: BatchContext,
  heads: StreamHeads,
  catalog: ProductCatalog,
  symbol: string,
  engine: MatchingEngine,
  p: CutoffCommand,
  commandAt: string,
  command: CausingCommand,
): Promise<CutoffResult> {
  const tradeDate = typeof p.tradeDate === 'string' ? p.tradeDate : '';
  const at = sequenceTime(engine.time, p.eventTime ?? commandAt);
  const nothing: CutoffResult = { before: [], after: [], outcome: 'unchanged' };
  const state = await cutoffState(ctx, symbol);
  const product = catalog.forSymbol(symbol);
  const ltd = product ? lastTradingDay(symbol, catalog) : '';
  const index = product && isFinalSettlementDay(tradeDate, ltd) ? await sessionIndexValues(ctx.manager, product.settlementIndex, state.lastSettledAt, at) : [];
  const override = p.override ?? null;
  const d = decideCutoff({ instrument: symbol, tradeDate, at, override, previousTicks: engine.referencePrice, product, lastTradingDay: ltd, index }, state);
  if (d.kind === 'unchanged') return nothing;
  if (d.kind === 'failed') {
    // A failure already logged for this trade date is not logged again when the run is repeated.
    if (d.logged) return { ...nothing, outcome: 'failed' };
    // A logged failure moves the book's clock to the cut-off, as re-driving the log does on recovery.
    engine.advanceTime(at);
    const failed: EndOfDayFailed = { type: 'EndOfDayFailed', at, tradeDate, instrument: symbol, code: d.failure.code, message: d.failure.message };
    return { before: [failed], after: [], outcome: 'failed' };
  }
  const sp = d.price;
  const set: SettlementPriceSet = {
    type: 'SettlementPriceSet',
    at,
    tradeDate,
    instrument: symbol,
    price: sp.priceTicks,
    previousPrice: engine.referencePrice,
    method: sp.method,
    ...(sp.reason ? { reason: sp.reason } : {}),
  };
  if (!d.final) {
    // The roll's events (expiries, cancels, SessionRolled) follow SettlementPriceSet in the stream.
    engine.rollSession(sp.priceTicks, at);
    return { before: [set], after: [], outcome: 'settled' };
  }
  // Final settlement: the book closes (its cancels and BookClosed follow SettlementPriceSet), the
  // contract expires, and the successor is listed.
  engine.expireAll(at);
  await sql(ctx.manager, `UPDATE instruments SET status = 'expired' WHERE symbol = $1`, [symbol]);
  const expired: ContractExpired = { type: 'ContractExpired', at, instrument: symbol, tradeDate, finalPrice: sp.priceTicks };
  await listSuccessors(ctx, heads, catalog, symbol, product!, ltd, tradeDate, at, command);
  return { before: [set], after: [expired], outcome: 'settled' };
}

/** The instrument's cut-off state: its stream as logged plus what this batch has emitted so far (not committed yet). */
async function cutoffState(ctx: BatchContext, symbol: string): Promise<MutableCutoffState> {
  const stream = streamOf(symbol);
  const logged = await sql<{ type: string; payload: Record<string, unknown> }>(
    ctx.manager,
    `SELECT stream_seq, type, payload FROM event_log WHERE stream = $1
       AND stream_seq >= COALESCE((SELECT max(stream_seq) FROM event_log WHERE stream = $1 AND type IN ('SessionRolled', 'InstrumentListed')), 0)
       AND type IN ('SessionRolled', 'InstrumentListed', 'Trade')
     UNION ALL
     SELECT stream_seq, type, payload FROM event_log WHERE stream = $1 AND type IN ('SettlementPriceSet', 'EndOfDayFailed', 'ContractExpired')
     ORDER BY stream_seq`,
    [stream],
  );
  const state = initialCutoffState();
  for (const r of logged.rows) fold(state, r.type, r.payload);
  for (const e of ctx.out.events) if (e.stream === stream) fold(state, e.type, e.payload as Record<string, unknown>);
  return state;
}

function fold(state: MutableCutoffState, type: string, payload: Record<string, unknown>): void {
  const f = factOf(type, payload);
  if (f) evolveCutoffState(state, f);
}

/** Decodes a logged event (by the codec, in its product's tick) into the fact the cut-off state follows; null for the others. */
function factOf(type: string, payload: Record<string, unknown>): CutoffFact | null {
  switch (type) {
    case 'InstrumentListed': {
      const e = decodeEvent(type, payload);
      return typeof e.listedAfterEndOfDay === 'string' ? { type, listedAfterEndOfDay: e.listedAfterEndOfDay } : { type };
    }
    case 'SessionRolled':
    case 'ContractExpired':
      return { type };
    case 'Trade': {
      const t = decodeEvent(type, payload);
      return { type, price: t.price, qty: t.qty, at: t.at };
    }
    case 'SettlementPriceSet': {
      const e = decodeEvent(type, payload);
      return { type, tradeDate: e.tradeDate, at: e.at };
    }
    case 'EndOfDayFailed': {
      const e = decodeEvent(type, payload);
      return { type, tradeDate: e.tradeDate, code: e.code };
    }
    default:
      return null;
  }
}

/** What a run's Cutoff did to the instrument, for the run's progress (eod_cutoffs). */
export async function recordCutoff(manager: EntityManager, p: CutoffCommand, symbol: string, outcome: CutoffResult['outcome'], at: number): Promise<void> {
  if (typeof p.runId !== 'string' || typeof p.tradeDate !== 'string') return;
  await sql(
    manager,
    `INSERT INTO eod_cutoffs (run_id, instrument, trade_date, outcome, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, instrument) DO NOTHING`,
    [p.runId, symbol, p.tradeDate, outcome, formatInstant(at || 0)],
  );
}
