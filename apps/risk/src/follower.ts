/**
 * Risk follows matching's events: the replica's open orders, positions and marks (the same
 * ClearingLedger the Rulebook runs) and the halts derived from the trades (SPEC §5).
 */
import { isoDateOfEpochMs } from '@ch/domain';
import { applyTrade, startSession } from '@ch/matching';
import { eventToWire, formatInstant, type RulebookEvent } from '@ch/rulebook';
import { topicName, type EventOf } from '@ch/messages';
import { type BatchContext, type Incoming } from '@ch/runtime';
import { type RiskState, RISK_STREAM } from './state';
import { settle, endOfDayFailed } from './end-of-day';

/** Follows the books: the replica's open orders, positions, marks and market state. */
export function follow(s: RiskState, ctx: BatchContext, m: Incoming, e: RulebookEvent): void {
  switch (e.type) {
    case 'InstrumentListed': {
      if (s.instrumentRisk(e.instrument)) return;
      const product = s.catalog.get(e.product);
      if (!product) return;
      s.ledger.listInstrument(e.instrument, product, e.referencePrice);
      const after = e.listedAfterEndOfDay;
      s.market.set(e.instrument, {
        halts: startSession(e.instrument, e.referencePrice),
        lastAt: e.at,
        ...(typeof after === 'string' ? { listedAfterEndOfDay: after } : {}),
      });
      s.dirtyInstruments.add(e.instrument);
      return;
    }
    case 'OrderAccepted': {
      const live = s.ordersOf(e.account).get(e.clientOrderId);
      if (live?.pending) live.pending = false;
      else if (!live) {
        s.ensureAccount(e.account);
        s.ledger.addOpenOrder(e.account, e.instrument, e.side, e.qty);
        s.ordersOf(e.account).set(e.clientOrderId, { instrument: e.instrument, side: e.side, open: e.qty, pending: false });
      }
      s.dirtyAccounts.add(e.account);
      return;
    }
    case 'OrderRejected': {
      if (e.command !== 'new' || !e.account || !e.clientOrderId) return;
      const live = s.ordersOf(e.account).get(e.clientOrderId);
      if (live?.pending) {
        s.releaseOpen(e.account, live.instrument, live.side, live.open);
        s.ordersOf(e.account).delete(e.clientOrderId);
        s.dirtyAccounts.add(e.account);
      }
      return;
    }
    case 'Trade': {
      deriveHalt(s, ctx, m, e);
      const calls = s.ledger.applyTrade({ instrument: e.instrument, priceTicks: e.price, qty: e.qty, buyAccount: e.buyAccount, sellAccount: e.sellAccount });
      s.leaves(e.buyAccount, e.buyClientOrderId, e.buyLeavesQty);
      s.leaves(e.sellAccount, e.sellClientOrderId, e.sellLeavesQty);
      s.dirtyInstruments.add(e.instrument);
      s.tradedInstruments.add(e.instrument);
      s.holdersOf(e.instrument).add(e.buyAccount).add(e.sellAccount);
      for (const c of calls) {
        const call: EventOf<'MarginCallIssued'> = {
          type: 'MarginCallIssued',
          at: e.at,
          account: c.account,
          tradeDate: isoDateOfEpochMs(e.at),
          amount: c.amount,
          intraday: true,
          equity: c.equity,
          im: c.requirements.im,
          mm: c.requirements.mm,
        };
        ctx.out.event(
          RISK_STREAM,
          'MarginCallIssued',
          eventToWire(call),
          { at: formatInstant(e.at), actor: 'system:risk', correlationId: m.envelope.correlationId, causationId: m.envelope.eventId, source: m.source },
          [{ topic: topicName('riskEvents'), key: c.account }],
        );
        s.calls.push(call);
        s.dirtyAccounts.add(c.account);
      }
      return;
    }
    case 'OrderCancelled':
    case 'OrderExpired': {
      const qty = e.type === 'OrderCancelled' ? e.cancelledQty : e.expiredQty;
      if (qty > 0) s.releaseOpen(e.account, e.instrument, e.side, qty);
      s.ordersOf(e.account).delete(e.clientOrderId);
      s.dirtyAccounts.add(e.account);
      return;
    }
    case 'OrderReplaced': {
      s.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.oldQty);
      s.ledger.addOpenOrder(e.account, e.instrument, e.side, e.newQty);
      const live = s.ordersOf(e.account).get(e.clientOrderId);
      if (live) live.open = e.newQty;
      s.dirtyAccounts.add(e.account);
      return;
    }
    case 'SessionRolled': {
      // A new session: a new reference price, the tier-1 band, no halt.
      const market = s.market.get(e.instrument);
      s.market.set(e.instrument, { halts: startSession(e.instrument, e.referencePrice), lastAt: Math.max(market?.lastAt ?? 0, e.at) });
      s.dirtyInstruments.add(e.instrument);
      return;
    }
    case 'SettlementPriceSet': {
      settle(s, ctx, m, e);
      return;
    }
    case 'EndOfDayFailed': {
      endOfDayFailed(s, ctx, m, e);
      return;
    }
    default:
      // MarketHalted and MarketResumed are matching's; the halts here are derived from the trades.
      return;
  }
}

/**
 * Runs a trade through the instrument's halt derivation; a halt it starts is logged
 * (HaltDerived, on risk's stream) and projected into `halts`.
 */
export function deriveHalt(s: RiskState, ctx: BatchContext, m: Incoming, e: { instrument: string; price: number; at: number }): void {
  const market = s.market.get(e.instrument);
  if (!market) return;
  const r = applyTrade(market.halts, e);
  market.halts = r.state;
  market.lastAt = Math.max(market.lastAt, e.at);
  s.dirtyInstruments.add(e.instrument);
  if (r.halt === null) return;
  const derived: EventOf<'HaltDerived'> = {
    type: 'HaltDerived',
    at: r.halt.start,
    instrument: r.halt.instrument,
    tier: r.halt.tier,
    start: r.halt.start,
    end: r.halt.end,
  };
  ctx.out.event(RISK_STREAM, 'HaltDerived', eventToWire(derived), {
    at: formatInstant(r.halt.start),
    actor: 'system:risk',
    correlationId: m.envelope.correlationId,
    causationId: m.envelope.eventId,
    source: m.source,
  });
  s.halts.push(r.halt);
}
