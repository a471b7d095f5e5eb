/**
 * Risk: the pre-trade gate in the order path and the margin of every account (SPEC §4, §6).
 *
 * Orders arrive on `orders` (keyed by account, so a risk instance owns whole accounts). Each passes,
 * in the order of SPEC §4, the clientOrderId check, the halt and band checks against the market
 * state this service follows on matching-events (matching re-checks them authoritatively), the
 * position limit and the margin check; only then is it forwarded to matching-commands, and its
 * quantity is reserved as open at once, so that the next order of the account already counts it.
 *
 * Halts (SPEC §5) are derived here from the trade log, independently of matching's MarketHalted
 * events: each instrument's session reference price (InstrumentListed, SessionRolled) and its
 * Trades run through the pure derivation of @ch/matching (halt-derivation.ts). Every halt derived
 * is logged as a HaltDerived event and projected into `halts`; the gate checks orders against the
 * derived state at the order's event time (an order timestamped exactly at a tier-1 halt's end is
 * after it, under the tier-2 band).
 *
 * The ledger replica (ClearingLedger from @ch/domain, the same code the in-process rulebook runs)
 * follows matching-events (order lifecycle, trades at their prices) and clearing-events (cash).
 * After each batch every touched account's IM and MM are stated as an event with the parameters
 * used (σ, r_ppb, reference price) and projected into `margin`.
 *
 * End of day (docs/decisions/0006-end-of-day.md): each SettlementPriceSet settles the replica's
 * instrument (VM into cash, carry, σ20, rate); once every instrument of the trade date is decided
 * the day's calls are assessed, and once clearing's postings are all seen EndOfDayCompleted is logged.
 *
 * This file only dispatches (ADR 0017): the rules are the pure deciders the Rulebook runs too
 * (@ch/rulebook gate.ts, @ch/domain account-limits.ts and end-of-day-progress.ts); gate.ts applies
 * the gate's decisions, follower.ts follows matching's events, end-of-day.ts the end of day,
 * store.ts is risk's SQL and state.ts its in-memory state.
 */
import type { DataSource } from 'typeorm';
import { type MatchingEvent } from '@ch/matching';
import { eventFromWire } from '@ch/rulebook';
import { commandPayload, decodeEvent, topicName } from '@ch/messages';
import { type BatchContext, type Incoming } from '@ch/runtime';
import { RiskState } from './state';
import { submit, withdrawal, accountLimitsCommand, amend } from './gate';
import { load, prefetchClientOrders, flush } from './store';
import { follow } from './follower';
import { postingSeen } from './end-of-day';

export { RISK_GATE_STREAM, RISK_STREAM } from './state';

export class Risk {
  private readonly s = new RiskState();

  /** Rebuilds the replica from risk_state. */
  async load(ds: DataSource): Promise<void> {
    await load(this.s, ds);
  }

  async handle(messages: Incoming[], ctx: BatchContext): Promise<void> {
    await prefetchClientOrders(this.s, ctx.manager, messages);
    for (const m of messages) {
      const env = m.envelope;
      const p = env.payload as Readonly<Record<string, unknown>>;
      // Facts from matching and clearing carry their event time; risk's clock never runs behind it.
      if (m.topic !== topicName('orders')) {
        const at = Date.parse(env.at);
        if (Number.isFinite(at) && at > this.s.lastAt) this.s.lastAt = at;
        // Each instrument's clock too (kept in memory; persisted with the instrument's next change).
        const instrument = m.topic === topicName('matchingEvents') ? p.instrument : undefined;
        const market = typeof instrument === 'string' ? this.s.market.get(instrument) : undefined;
        if (market && Number.isFinite(at) && at > market.lastAt) market.lastAt = at;
      }
      switch (env.type) {
        case 'SubmitOrder':
          await submit(this.s, ctx, m, commandPayload(env, 'SubmitOrder'));
          break;
        case 'CancelOrder':
          await amend(this.s, ctx, m, commandPayload(env, 'CancelOrder'), null);
          break;
        case 'ReplaceOrder': {
          const replace = commandPayload(env, 'ReplaceOrder');
          await amend(this.s, ctx, m, replace, replace);
          break;
        }
        case 'RequestWithdrawal':
          if (m.topic === topicName('orders')) withdrawal(this.s, ctx, m, commandPayload(env, 'RequestWithdrawal'));
          break;
        case 'GrantHedgeExemption':
          if (m.topic === topicName('orders')) accountLimitsCommand(this.s, ctx, m, commandPayload(env, 'GrantHedgeExemption'));
          break;
        case 'SetPositionLimits':
          if (m.topic === topicName('orders')) accountLimitsCommand(this.s, ctx, m, commandPayload(env, 'SetPositionLimits'));
          break;
        case 'CashDeposited': {
          // The codec converts the amount (a decimal string) to cents; `balance` stays its text.
          const { account, amount } = decodeEvent('CashDeposited', p);
          this.s.ensureAccount(account);
          this.s.ledger.deposit(account, amount);
          this.s.dirtyAccounts.add(account);
          break;
        }
        case 'VariationMarginPosted':
          // Risk applied the VM itself when it settled the instrument; clearing's posting only
          // counts towards the day's completion (docs/decisions/0006-end-of-day.md).
          // Only its trade date is read ('plain' on the wire: no conversion, so no decode per posting).
          if (m.topic === topicName('clearingEvents') && typeof p.tradeDate === 'string') postingSeen(this.s, ctx, m, p.tradeDate, Date.parse(env.at));
          break;
        default:
          if (m.topic === topicName('matchingEvents')) follow(this.s, ctx, m, eventFromWire(p));
      }
    }
    await flush(this.s, ctx);
  }
}

export type { MatchingEvent };
