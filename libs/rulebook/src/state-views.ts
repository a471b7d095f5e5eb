/**
 * The canonical views of an account and of an order book that the state hash is taken over. One
 * definition, used by the in-process rulebook (the scenario report's `stateHash`) and by the
 * auditor's replay of the services' log, so the two hash the same state the same way.
 */
import type { ClearingLedger } from '@ch/domain';
import type { ActiveBand, MatchingEngine, SessionState } from '@ch/matching';

/** Cash, equity, positions-only IM and MM (cents), and the non-zero net positions (lots). */
export interface AccountView {
  cash: number;
  equity: number;
  im: number;
  mm: number;
  positions: Record<string, number>;
}

/** [orderId, account, clientOrderId, side, price (ticks), openQty] */
export type BookOrderRow = [number, string, string, 'buy' | 'sell', number, number];

/** Session state, active band, reference price and the open orders in priority order. */
export interface BookView {
  state: SessionState;
  band: ActiveBand;
  referencePrice: number;
  orders: BookOrderRow[];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function accountView(ledger: ClearingLedger, account: string): AccountView {
  const a = ledger.account(account);
  const req = ledger.computeRequirements(account);
  const positions: Record<string, number> = {};
  for (const sym of Object.keys(a.positions).sort(byId)) {
    const q = ledger.position(account, sym);
    if (q !== 0) positions[sym] = q;
  }
  return { cash: a.cash, equity: ledger.equity(account), im: req.im, mm: req.mm, positions };
}

/** Open orders: bids best first, then asks best first; oldest first within a price. */
export function bookView(engine: MatchingEngine): BookView {
  return {
    state: engine.sessionState(),
    band: engine.activeBand(),
    referencePrice: engine.referencePrice,
    orders: engine.openOrders().map((o): BookOrderRow => [o.orderId, o.account, o.clientOrderId, o.side, o.price, o.openQty]),
  };
}
