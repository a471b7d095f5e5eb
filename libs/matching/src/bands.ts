import { ceilDiv, floorDiv } from '@ch/domain';
import type { PriceBand } from './types';

/** Length of a tier-1 halt in event time (SPEC §5: 10 minutes). */
export const TIER1_HALT_MS = 10 * 60 * 1000;

export interface SessionBands {
  readonly tier1: PriceBand;
  readonly tier2: PriceBand;
}

/**
 * Price bands around a session reference price (SPEC §5):
 *   tier 1 = [ceilTick(ref x 0.85), floorTick(ref x 1.15)]
 *   tier 2 = [ceilTick(ref x 0.75), floorTick(ref x 1.25)]
 * Rounded inwards, in exact integer arithmetic (bigint, so no safe-integer ref can overflow the
 * intermediate product). Runs once per session, never on the order path.
 */
export function computeBands(referencePrice: number): SessionBands {
  if (!Number.isSafeInteger(referencePrice) || referencePrice <= 0) {
    throw new RangeError(`reference price must be a positive integer number of ticks: ${referencePrice}`);
  }
  const ref = BigInt(referencePrice);
  const band = (loPct: bigint, hiPct: bigint): PriceBand => ({
    lo: Number(ceilDiv(ref * loPct, 100n)),
    hi: Number(floorDiv(ref * hiPct, 100n)),
  });
  const bands = { tier1: band(85n, 115n), tier2: band(75n, 125n) };
  if (!Number.isSafeInteger(bands.tier2.hi)) throw new RangeError(`reference price too large: ${referencePrice}`);
  return bands;
}
