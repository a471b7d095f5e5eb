/**
 * The scenario report of SPEC §10, built from the events (what happened) and the rulebook's final
 * state (balances). The same builder serves the in-process run, the live run (from the services'
 * log) and the auditor's replay, so the three can be compared field by field.
 */
import { formatCents } from '@ch/domain';
import type { RulebookEvent } from './events';
import { formatE4 } from './rulebook';
import { formatInstant } from './commands';
import { EVENT_CODEC } from './wire';

export interface ScenarioReport {
  trades: {
    instrument: string;
    price: string;
    qty: number;
    buyAccount: string;
    sellAccount: string;
    buyClientOrderId: string;
    sellClientOrderId: string;
    at: string;
  }[];
  rejections: { account: string; clientOrderId: string | null; cmd: string; reason: string; field?: string }[];
  halts: { instrument: string; tier: number; start: string; end: string | null }[];
  indices: { index: string; at: string; value: string }[];
  settlements: { tradeDate: string; instrument: string; price: string; method: string }[];
  variationMargin: { tradeDate: string; account: string; instrument: string; amount: string }[];
  marginCalls: { tradeDate: string; account: string; amount: string; intraday: boolean }[];
  accounts: Record<string, { cash: string; equity: string; initialMargin: string; maintenanceMargin: string; positions: Record<string, number> }>;
  errors: { line: number; message: string }[];
  stateHash: string;
}

export interface AccountFigures {
  cash: number;
  equity: number;
  im: number;
  mm: number;
  positions: Record<string, number>;
}

const CMD_NAME: Record<string, string> = { new: 'order', replace: 'replace', cancel: 'cancel' };

/** Folds events into the report's lists (everything but accounts, errors and the hash). */
export function reportLists(events: Iterable<RulebookEvent>): Omit<ScenarioReport, 'accounts' | 'errors' | 'stateHash'> {
  const r: Omit<ScenarioReport, 'accounts' | 'errors' | 'stateHash'> = {
    trades: [],
    rejections: [],
    halts: [],
    indices: [],
    settlements: [],
    variationMargin: [],
    marginCalls: [],
  };
  for (const e of events) {
    switch (e.type) {
      case 'Trade':
        r.trades.push({
          instrument: e.instrument,
          price: EVENT_CODEC.priceToWire(e.instrument, e.price),
          qty: e.qty,
          buyAccount: e.buyAccount,
          sellAccount: e.sellAccount,
          buyClientOrderId: e.buyClientOrderId,
          sellClientOrderId: e.sellClientOrderId,
          at: formatInstant(e.at),
        });
        break;
      case 'OrderRejected':
        r.rejections.push({
          account: e.account ?? '',
          clientOrderId: e.clientOrderId,
          cmd: CMD_NAME[e.command] ?? e.command,
          reason: e.reason,
          ...(e.field ? { field: e.field } : {}),
        });
        break;
      case 'WithdrawalRejected':
        r.rejections.push({ account: e.account, clientOrderId: null, cmd: 'withdraw', reason: e.reason });
        break;
      case 'MarketHalted':
        r.halts.push({ instrument: e.instrument, tier: e.tier, start: formatInstant(e.start), end: e.end === null ? null : formatInstant(e.end) });
        break;
      case 'IndexPublished':
        r.indices.push({ index: e.index, at: formatInstant(e.at), value: formatE4(e.valueE4) });
        break;
      case 'SettlementPriceSet':
        r.settlements.push({ tradeDate: e.tradeDate, instrument: e.instrument, price: EVENT_CODEC.priceToWire(e.instrument, e.price), method: e.method });
        break;
      case 'VariationMarginPosted':
        r.variationMargin.push({ tradeDate: e.tradeDate, account: e.account, instrument: e.instrument, amount: formatCents(e.amount) });
        break;
      case 'MarginCallIssued':
        r.marginCalls.push({ tradeDate: e.tradeDate, account: e.account, amount: formatCents(e.amount), intraday: e.intraday });
        break;
      default:
        break;
    }
  }
  return r;
}

export function formatAccounts(figures: Record<string, AccountFigures>): ScenarioReport['accounts'] {
  const out: ScenarioReport['accounts'] = {};
  for (const id of Object.keys(figures).sort()) {
    const f = figures[id];
    out[id] = {
      cash: formatCents(f.cash),
      equity: formatCents(f.equity),
      initialMargin: formatCents(f.im),
      maintenanceMargin: formatCents(f.mm),
      positions: f.positions,
    };
  }
  return out;
}
