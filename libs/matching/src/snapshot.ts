import type { BandTier, Side, TimeInForce } from './types';

export const SNAPSHOT_VERSION = 1;

/** One resting order, with every field needed to rebuild it exactly. */
export interface SnapshotOrder {
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly tif: TimeInForce;
  readonly price: number;
  readonly openQty: number;
  readonly filledQty: number;
  readonly originalPrice: number;
  readonly originalQty: number;
  readonly acceptedAt: number;
}

/**
 * Plain JSON: the whole state of one instrument's engine. `orders` is in priority order: bids best
 * price first, then asks best price first, each level oldest first; restoring appends them in
 * that order, which reproduces time priority.
 */
export interface MatchingSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  readonly instrument: string;
  readonly referencePrice: number;
  readonly activeTier: BandTier;
  readonly tier1HaltUsed: boolean;
  readonly halt: { readonly tier: BandTier; readonly start: number; readonly end: number | null } | null;
  readonly closed: boolean;
  /** Event time of the last command processed (time never goes backwards). */
  readonly lastAt: number;
  readonly nextOrderId: number;
  readonly nextTradeId: number;
  readonly lastTradePrice: number | null;
  readonly orders: SnapshotOrder[];
}
