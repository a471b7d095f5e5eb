/** The market-data projection of a book (market_data, one row per instrument), written after each batch that touched it. */
import type { EntityManager } from 'typeorm';
import type { MatchingEngine } from '@ch/matching';
import { formatInstant } from '@ch/rulebook';
import { sql } from '@ch/persistence';

export async function writeMarketData(manager: EntityManager, symbol: string, engine: MatchingEngine): Promise<void> {
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
