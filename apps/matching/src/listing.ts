/**
 * Listing (SPEC §3): a ListInstrument command creates the instrument's book and records it; after
 * an expiry, the calendar's successors (decided by decideSuccessors in libs/domain) are listed
 * through ListInstrument commands to their own streams.
 */
import type { EntityManager } from 'typeorm';
import { decideSuccessors, formatTicks, parsePriceToTicks, successorSymbols, type ProductCatalog, type ProductSpec, type SuccessorListing } from '@ch/domain';
import type { MatchingEngine } from '@ch/matching';
import { sql } from '@ch/persistence';
import { formatInstant, topicName, type CommandPayload, type InstrumentListed } from '@ch/messages';
import { sequenceTime, type BatchContext, type StreamHeads } from '@ch/runtime';
import { newEngine, type EventSink } from './book-recovery';
import { newestIndexValue } from './index-values';

/** A ListInstrument command's payload. */
export type ListCommand = CommandPayload<'ListInstrument'>;

/** The command a cut-off answers to: the successors' listings are caused by it. */
export interface CausingCommand {
  readonly actor: string;
  readonly correlationId: string;
  readonly eventId: string;
}

/**
 * The InstrumentListed fact a ListInstrument command states, its reference price parsed in whole
 * ticks of the product's tick; null when the product is unknown or the price is not such a price.
 */
export function listingOf(product: ProductSpec | undefined, symbol: string, p: ListCommand, at: number): InstrumentListed | null {
  if (!product || typeof p.referencePrice !== 'string') return null;
  const price = parsePriceToTicks(p.referencePrice, product.tickCents);
  if (!price.ok) return null;
  return {
    type: 'InstrumentListed',
    at,
    instrument: symbol,
    product: product.code,
    referencePrice: price.ticks,
    lastTradingDay: p.lastTradingDay,
    source: p.source ?? 'operations',
    ...(typeof p.listedAfterEndOfDay === 'string' ? { listedAfterEndOfDay: p.listedAfterEndOfDay } : {}),
  };
}

/**
 * Lists an instrument that has no book yet: its new book (with its product's tick) and the
 * InstrumentListed fact, with the instruments row written; null when listingOf refuses the command.
 */
export async function listInstrument(
  manager: EntityManager,
  catalog: ProductCatalog,
  sink: EventSink,
  symbol: string,
  p: ListCommand,
  commandAt: string,
): Promise<{ engine: MatchingEngine; tickCents: number; listed: InstrumentListed } | null> {
  const product = catalog.forSymbol(symbol);
  const at = sequenceTime(0, p.eventTime ?? commandAt);
  const listed = listingOf(product, symbol, p, at);
  if (!product || !listed) return null;
  const engine = newEngine(symbol, listed.referencePrice, sink);
  // The book's clock starts at its listing: no order can be stamped before it.
  engine.advanceTime(at);
  await sql(
    manager,
    `INSERT INTO instruments (symbol, product, reference_price, last_trading_day, status, listed_at, listed_after_eod) VALUES ($1, $2, $3, $4, 'listed', $5, $6)
     ON CONFLICT (symbol) DO NOTHING`,
    [symbol, product.code, listed.referencePrice, listed.lastTradingDay, formatInstant(at), listed.listedAfterEndOfDay ?? null],
  );
  return { engine, tickCents: product.tickCents, listed };
}

/** The ListInstrument command of a successor the calendar adds, its reference price in the product's tick. */
export function successorListing(l: SuccessorListing, product: ProductSpec, at: number): ListCommand {
  return {
    instrument: l.instrument,
    referencePrice: formatTicks(l.referenceTicks, product.tickCents),
    lastTradingDay: l.lastTradingDay,
    source: 'index',
    listedAfterEndOfDay: l.listedAfterEndOfDay,
    eventTime: formatInstant(at),
  };
}

/**
 * After an expiry, sends ListInstrument for what the calendar adds, with the product's latest index
 * value as reference price, to the successor's own stream. The command is sent through the outbox
 * in this batch's transaction: it is sent exactly when the expiry commits. The listing carries the
 * trade date whose end of day made it, so that day's end of day (risk's calls, progress) does not
 * wait for an instrument that had no session that day.
 */
export async function listSuccessors(
  ctx: BatchContext,
  heads: StreamHeads,
  catalog: ProductCatalog,
  expired: string,
  product: ProductSpec,
  expiredLastTradingDay: string,
  tradeDate: string,
  at: number,
  command: CausingCommand,
): Promise<void> {
  const symbols = successorSymbols(product, expiredLastTradingDay);
  if (!symbols.length) return;
  const existing = await sql<{ symbol: string }>(ctx.manager, 'SELECT symbol FROM instruments WHERE symbol = ANY($1)', [symbols]);
  const listed = new Set(existing.rows.map((r) => r.symbol));
  const index = await newestIndexValue(ctx.manager, product.settlementIndex, at);
  const listings = decideSuccessors({ product, expiredLastTradingDay, tradeDate, at, index }, (s) => listed.has(s), catalog);
  if (!listings.length) return;
  const stream = `matching-listings:${expired}`;
  await heads.load(ctx.manager, [stream]);
  for (const l of listings) {
    ctx.out.command(
      stream,
      'ListInstrument',
      successorListing(l, product, at),
      { at: formatInstant(at), actor: 'system:matching', correlationId: command.correlationId, causationId: command.eventId },
      { topic: topicName('matchingCommands'), key: l.instrument },
    );
  }
}
