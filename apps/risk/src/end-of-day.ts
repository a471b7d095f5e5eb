/**
 * Risk's end of day (docs/decisions/0006-end-of-day.md): each SettlementPriceSet settles the
 * replica's instrument; the day's progress (done, pending, calls due, complete) is the pure state
 * machine of @ch/domain (end-of-day-progress.ts); this module applies its decisions and logs them.
 */
import { isFinalSettlementDay, lastTradingDay, takesPartInEndOfDay } from '@ch/domain';
import { eventToWire, type RulebookEvent } from '@ch/rulebook';
import { topicName, type EventOf } from '@ch/messages';
import { type BatchContext, type Incoming } from '@ch/runtime';
import { callsDue, completionDue, type EodInstrument } from '@ch/domain';
import { type RiskState, RISK_STREAM } from './state';

/**
 * End of day for one instrument (SPEC §7.2, §7.3): the replica settles it with the same domain
 * code as the in-process rulebook (ClearingLedger.settleInstrument: variation margin into cash,
 * carry, σ20 and the new rate) and the margin of every holder of the instrument is restated for
 * the trade date (no other account's figures change); the
 * day's calls follow once its last instrument is decided (assessCallsIfDayComplete). Risk
 * applies the variation margin itself here and takes no cash from clearing's
 * VariationMarginPosted (docs/decisions/0006-end-of-day.md). A trade date already settled
 * changes nothing.
 */
export function settle(s: RiskState, ctx: BatchContext, m: Incoming, e: Extract<RulebookEvent, { type: 'SettlementPriceSet' }>): void {
  if (!s.instrumentRisk(e.instrument)) return;
  const sp = { priceTicks: e.price, method: e.method, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
  // On (or, after a failed final settlement, past) the last trading day matching settles only
  // finally and then closes the book (SPEC §8): positions close at this price and open orders go
  // now, before the day's calls are assessed, as in the in-process rulebook.
  const expire = isFinalSettlementDay(e.tradeDate, lastTradingDay(e.instrument, s.catalog));
  const holders = [...s.holdersOf(e.instrument)];
  const r = s.ledger.settleInstrument(e.instrument, e.tradeDate, sp, { expire });
  if (r.alreadySettled) return;
  s.settledNow.push({ instrument: e.instrument, tradeDate: e.tradeDate });
  if (expire) {
    s.holders.delete(e.instrument);
    for (const account of holders) s.dirtyAccounts.add(account);
    for (const [account, orders] of s.orders) {
      for (const [id, o] of orders) {
        if (o.instrument !== e.instrument) continue;
        orders.delete(id);
        s.dirtyAccounts.add(account);
      }
    }
  }
  s.eodApply(e.tradeDate, { type: 'InstrumentSettled', instrument: e.instrument, postings: r.postings.length });
  const meta = s.eodMeta(m, e.at);
  if (r.params.alert) {
    const alert: EventOf<'MarginRateAlert'> = { type: 'MarginRateAlert', at: e.at, instrument: e.instrument, sigma: r.params.sigma, ratePpb: r.params.ratePpb };
    ctx.out.event(RISK_STREAM, 'MarginRateAlert', eventToWire(alert), meta);
  }
  // The settlement moves the cash (VM) and the margin parameters of the instrument's holders only
  // (statements are positions-only); restating every account for every instrument cost 10,000 ×
  // instruments statements at bench:eod's size.
  for (const account of holders) s.dirtyAccounts.add(account);
  s.dirtyInstruments.add(e.instrument);
  s.statedTradeDate = e.tradeDate;
  assessCallsIfDayComplete(s, ctx, m, e.tradeDate, e.at);
}

/**
 * End-of-day calls are assessed once per trade date, after its last instrument is decided
 * (settled, or its end of day failed), as ClearingLedger.endOfDay does for the in-process
 * rulebook: before that an account's equity mixes settled and unsettled instruments. The
 * instruments' streams reach risk in any order across partitions, so both a settlement and a
 * failure can be the last.
 */
export function assessCallsIfDayComplete(s: RiskState, ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
  const ids = s.ledger.instrumentIds();
  const instruments = new Map<string, EodInstrument>();
  for (const id of ids) {
    const inst = s.ledger.instrument(id);
    instruments.set(id, {
      settledToday: inst.settlements.some((x) => x.tradeDate === tradeDate),
      expired: inst.expired,
      takesPart: takesPartInEndOfDay(s.market.get(id)?.listedAfterEndOfDay, tradeDate),
    });
  }
  if (!callsDue(s.eodDay(tradeDate), instruments)) return;
  s.eodApply(tradeDate, { type: 'CallsAssessed' });
  const meta = s.eodMeta(m, at);
  for (const c of s.ledger.assessEndOfDayCalls(tradeDate)) {
    const call: EventOf<'MarginCallIssued'> = {
      type: 'MarginCallIssued',
      at,
      account: c.account,
      tradeDate,
      amount: c.amount,
      intraday: false,
      equity: c.equity,
      im: c.requirements.im,
      mm: c.requirements.mm,
    };
    ctx.out.event(RISK_STREAM, 'MarginCallIssued', eventToWire(call), meta, [{ topic: topicName('riskEvents'), key: c.account }]);
    s.calls.push(call);
    s.dirtyAccounts.add(c.account);
  }
  if (s.statedTradeDate === null) s.statedTradeDate = tradeDate;
  completeIfDone(s, ctx, m, tradeDate, at);
}

export function postingSeen(s: RiskState, ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
  s.eodApply(tradeDate, { type: 'PostingSeen' });
  completeIfDone(s, ctx, m, tradeDate, Number.isFinite(at) ? at : s.lastAt);
}

/**
 * EndOfDayCompleted, once the day's calls are assessed and every variation margin posting of the
 * day is in the log (clearing's VariationMarginPosted has reached risk): the auditor's replay
 * settles the day at this event and checks the postings before it against its own.
 */
export function completeIfDone(s: RiskState, ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
  if (!completionDue(s.eodDay(tradeDate))) return;
  s.eodApply(tradeDate, { type: 'DayCompleted' });
  const instruments = s.ledger.instrumentIds().filter((id) => s.ledger.instrument(id).settlements.some((x) => x.tradeDate === tradeDate));
  const done: EventOf<'EndOfDayCompleted'> = { type: 'EndOfDayCompleted', at: Math.max(at, s.lastAt), tradeDate, instruments };
  ctx.out.event(RISK_STREAM, 'EndOfDayCompleted', eventToWire(done), s.eodMeta(m, done.at));
}

export function endOfDayFailed(s: RiskState, ctx: BatchContext, m: Incoming, e: { tradeDate: string; instrument: string; at: number }): void {
  s.eodApply(e.tradeDate, { type: 'InstrumentFailed', instrument: e.instrument });
  assessCallsIfDayComplete(s, ctx, m, e.tradeDate, e.at);
}
