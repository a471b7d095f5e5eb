/**
 * Halts derived from the trade log (SPEC §5: "the risk service derives the halts from the trade
 * log"), independently of the engine's own MarketHalted events. The input is what a follower of an
 * instrument's stream sees: the session's reference price (InstrumentListed, SessionRolled) and its
 * Trades, in order. The output is the halt record {instrument, tier, start, end}.
 *
 * Rules (the same as the engine's, restated from the trades' point of view):
 * - A session starts with the tier-1 band around its reference price active (`computeBands`).
 * - A trade printed at an edge of the active band while the instrument is not halted starts a halt
 *   at the trade's event time (every trade of one order carries that order's time, so the halt
 *   starts at the triggering order's time): tier 1 for TIER1_HALT_MS if the tier-1 band is active,
 *   else tier 2 until the session ends (`end` null).
 * - Nothing matches during a halt, so the further trades of the triggering order (same time) are
 *   part of it and start nothing.
 * - A tier-1 halt is over at its end (a trade at exactly the end is after it): from then on the
 *   tier-2 band is active for the rest of the session, so a tier-1 halt happens at most once.
 * - A session roll resets everything around the new reference price.
 *
 * The state is plain JSON (it is persisted by its follower) and is never mutated: every function
 * returns a new state.
 */
import { computeBands, TIER1_HALT_MS, type SessionBands } from './bands';
import type { ActiveBand, BandTier } from './types';

export interface HaltRecord {
  readonly instrument: string;
  readonly tier: BandTier;
  /** Event time (epoch ms) of the order whose trade printed at the band edge. */
  readonly start: number;
  /** start + 10 min for tier 1; null for tier 2 (until the session ends). */
  readonly end: number | null;
}

export interface HaltDerivationState {
  readonly instrument: string;
  readonly referencePrice: number;
  /** The session's bands (computed once per session, not per order or trade). */
  readonly bands: SessionBands;
  /** The band tier active when not halted: 1 until the tier-1 halt is over, then 2. */
  readonly activeTier: BandTier;
  /** The current (or last, for a tier-1 halt that is over) halt of the session; null: none. */
  readonly halt: HaltRecord | null;
}

/** A session (listing or roll) starting around `referencePrice` with the tier-1 band. */
export function startSession(instrument: string, referencePrice: number): HaltDerivationState {
  return { instrument, referencePrice, bands: computeBands(referencePrice), activeTier: 1, halt: null };
}

/** The state as of event time `at`: a tier-1 halt whose end is ≤ `at` is over. */
export function advanceTo(state: HaltDerivationState, at: number): HaltDerivationState {
  const h = state.halt;
  if (h !== null && h.tier === 1 && h.end !== null && at >= h.end && state.activeTier === 1) {
    return { ...state, activeTier: 2 };
  }
  return state;
}

/** Whether the instrument is halted at event time `at`. */
export function isHaltedAt(state: HaltDerivationState, at: number): boolean {
  const h = state.halt;
  if (h === null) return false;
  if (h.tier === 2) return true;
  return h.end !== null && at >= h.start && at < h.end;
}

/** The price band orders are checked against at event time `at`. */
export function activeBandAt(state: HaltDerivationState, at: number): ActiveBand {
  const tier = advanceTo(state, at).activeTier;
  return tier === 1 ? { tier: 1, ...state.bands.tier1 } : { tier: 2, ...state.bands.tier2 };
}

/**
 * Applies one trade (price in ticks, event time in ms). Returns the new state and the halt the
 * trade started, if it started one.
 */
export function applyTrade(
  state: HaltDerivationState,
  trade: { readonly price: number; readonly at: number },
): { state: HaltDerivationState; halt: HaltRecord | null } {
  const s = advanceTo(state, trade.at);
  if (isHaltedAt(s, trade.at)) return { state: s, halt: null };
  const band = s.activeTier === 1 ? s.bands.tier1 : s.bands.tier2;
  if (trade.price !== band.lo && trade.price !== band.hi) return { state: s, halt: null };
  const halt: HaltRecord =
    s.activeTier === 1
      ? { instrument: s.instrument, tier: 1, start: trade.at, end: trade.at + TIER1_HALT_MS }
      : { instrument: s.instrument, tier: 2, start: trade.at, end: null };
  return { state: { ...s, halt }, halt };
}

/**
 * Derives every halt of a sequence of an instrument's facts (listing, rolls, trades), in order:
 * what a follower of the log computes, in one call. Other facts are ignored.
 */
export function deriveHalts(
  events: readonly (
    | { readonly type: 'InstrumentListed'; readonly instrument: string; readonly referencePrice: number }
    | { readonly type: 'SessionRolled'; readonly instrument: string; readonly referencePrice: number }
    | { readonly type: 'Trade'; readonly instrument: string; readonly price: number; readonly at: number }
    | { readonly type: string; readonly instrument?: string }
  )[],
): HaltRecord[] {
  const states = new Map<string, HaltDerivationState>();
  const out: HaltRecord[] = [];
  for (const e of events) {
    if (e.type === 'InstrumentListed' || e.type === 'SessionRolled') {
      const x = e as { instrument: string; referencePrice: number };
      states.set(x.instrument, startSession(x.instrument, x.referencePrice));
    } else if (e.type === 'Trade') {
      const t = e as { instrument: string; price: number; at: number };
      const s = states.get(t.instrument);
      if (s === undefined) continue;
      const r = applyTrade(s, t);
      states.set(t.instrument, r.state);
      if (r.halt !== null) out.push(r.halt);
    }
  }
  return out;
}
