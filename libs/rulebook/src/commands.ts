/**
 * Scenario commands (SPEC §10) and their parsing. A scenario line is one JSON object; this module
 * checks its envelope (`at`, `cmd`, the identifiers a command needs) and leaves the order fields as
 * the member sent them, because a malformed order is an order rejection (INVALID_ORDER,
 * INVALID_TICK), not a malformed line.
 */
import { parseIsoDate } from '@ch/domain';
import { parseInstant } from '@ch/messages/wire/instant';

// The instant's text form is the wire's (libs/messages owns it); re-exported for the rulebook's callers.
export { formatInstant, parseInstant } from '@ch/messages/wire/instant';

export interface ProviderRow {
  readonly [field: string]: unknown;
}

interface At {
  /** Event time, epoch milliseconds (parsed from the line's ISO-8601 `at`). */
  readonly at: number;
}

export type ScenarioCommand =
  | (At & { readonly cmd: 'member'; readonly member: string; readonly accounts: readonly string[] })
  | (At & { readonly cmd: 'deposit'; readonly account: string; readonly amount: string })
  | (At & { readonly cmd: 'withdraw'; readonly account: string; readonly amount: string })
  | (At & { readonly cmd: 'list'; readonly instrument: string; readonly referencePrice: string | null })
  | (At & { readonly cmd: 'order'; readonly account: string; readonly clientOrderId: string; readonly order: RawOrder })
  | (At & { readonly cmd: 'replace'; readonly account: string; readonly clientOrderId: string; readonly price: unknown; readonly qty: unknown })
  | (At & { readonly cmd: 'cancel'; readonly account: string; readonly clientOrderId: string })
  | (At & { readonly cmd: 'index'; readonly index: 'TPI' | 'GCI'; readonly providers: readonly ProviderRow[] })
  | (At & { readonly cmd: 'eod'; readonly tradeDate: string; readonly overrides: Readonly<Record<string, { price: string; reason: string }>> })
  /** SPEC §10 addendum, §17: both limits, positive whole lots (the Rulebook refuses other values). */
  | (At & { readonly cmd: 'limits'; readonly account: string; readonly product: string; readonly allMonths: unknown; readonly spotMonth: unknown })
  | (At & { readonly cmd: 'exemption'; readonly account: string; readonly product: string; readonly allMonths: unknown; readonly spotMonth: unknown });

/** Order fields as received; validated by validateOrderInput. */
export interface RawOrder {
  readonly instrument: unknown;
  readonly side: unknown;
  readonly type: unknown;
  readonly price?: unknown;
  readonly qty: unknown;
  readonly tif?: unknown;
}

export type ParseResult = { readonly ok: true; readonly command: ScenarioCommand } | { readonly ok: false; readonly message: string };

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** '2027-02-30' is not a date: the calendar would throw on it later. */
function isCalendarDate(text: string): boolean {
  try {
    parseIsoDate(text);
    return true;
  } catch {
    return false;
  }
}

function str(o: Record<string, unknown>, k: string): string | null {
  const v = o[k];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Parses one scenario line. `previousAt` enforces that `at` never decreases. */
export function parseScenarioLine(line: string, previousAt: number | null): ParseResult {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return { ok: false, message: 'not valid JSON' };
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return { ok: false, message: 'a line must be a JSON object' };
  const r = o as Record<string, unknown>;
  const at = parseInstant(r.at);
  if (at === null) return { ok: false, message: '`at` must be an ISO-8601 UTC time such as 2027-01-04T14:30:00.000Z' };
  if (previousAt !== null && at < previousAt) return { ok: false, message: '`at` must not decrease' };
  const need = (...keys: string[]): string | null => {
    for (const k of keys) if (str(r, k) === null) return `\`${k}\` is required (a non-empty string)`;
    return null;
  };
  let missing: string | null;
  switch (r.cmd) {
    case 'member': {
      if ((missing = need('member'))) return { ok: false, message: missing };
      const accounts = r.accounts;
      if (!Array.isArray(accounts) || accounts.length === 0 || !accounts.every((a) => typeof a === 'string' && a.length > 0)) {
        return { ok: false, message: '`accounts` must be a non-empty array of account ids' };
      }
      return { ok: true, command: { cmd: 'member', at, member: str(r, 'member')!, accounts: accounts as string[] } };
    }
    case 'deposit':
    case 'withdraw':
      if ((missing = need('account', 'amount'))) return { ok: false, message: missing };
      return { ok: true, command: { cmd: r.cmd, at, account: str(r, 'account')!, amount: str(r, 'amount')! } };
    case 'list':
      if ((missing = need('instrument'))) return { ok: false, message: missing };
      if (r.referencePrice !== undefined && typeof r.referencePrice !== 'string') return { ok: false, message: '`referencePrice` must be a decimal string' };
      return { ok: true, command: { cmd: 'list', at, instrument: str(r, 'instrument')!, referencePrice: r.referencePrice ?? null } };
    case 'order':
      if ((missing = need('account', 'clientOrderId'))) return { ok: false, message: missing };
      return {
        ok: true,
        command: {
          cmd: 'order',
          at,
          account: str(r, 'account')!,
          clientOrderId: str(r, 'clientOrderId')!,
          order: { instrument: r.instrument, side: r.side, type: r.type, price: r.price, qty: r.qty, tif: r.tif },
        },
      };
    case 'replace':
      if ((missing = need('account', 'clientOrderId'))) return { ok: false, message: missing };
      return { ok: true, command: { cmd: 'replace', at, account: str(r, 'account')!, clientOrderId: str(r, 'clientOrderId')!, price: r.price, qty: r.qty } };
    case 'cancel':
      if ((missing = need('account', 'clientOrderId'))) return { ok: false, message: missing };
      return { ok: true, command: { cmd: 'cancel', at, account: str(r, 'account')!, clientOrderId: str(r, 'clientOrderId')! } };
    case 'index': {
      if (r.index !== 'TPI' && r.index !== 'GCI') return { ok: false, message: '`index` must be TPI or GCI' };
      if (!Array.isArray(r.providers) || !r.providers.every((p) => p !== null && typeof p === 'object' && !Array.isArray(p))) {
        return { ok: false, message: '`providers` must be an array of objects' };
      }
      return { ok: true, command: { cmd: 'index', at, index: r.index, providers: r.providers as ProviderRow[] } };
    }
    case 'eod': {
      const tradeDate = str(r, 'tradeDate');
      if (tradeDate === null || !DATE.test(tradeDate) || !isCalendarDate(tradeDate)) return { ok: false, message: '`tradeDate` must be a date YYYY-MM-DD' };
      const overrides: Record<string, { price: string; reason: string }> = {};
      if (r.overrides !== undefined) {
        if (r.overrides === null || typeof r.overrides !== 'object' || Array.isArray(r.overrides))
          return { ok: false, message: '`overrides` must be an object' };
        for (const [sym, v] of Object.entries(r.overrides as Record<string, unknown>)) {
          const ov = v as Record<string, unknown> | null;
          if (!ov || typeof ov !== 'object' || typeof ov.price !== 'string' || typeof ov.reason !== 'string' || ov.reason.trim() === '') {
            return { ok: false, message: `override for ${sym} needs a decimal string \`price\` and a non-empty \`reason\`` };
          }
          overrides[sym] = { price: ov.price, reason: ov.reason };
        }
      }
      return { ok: true, command: { cmd: 'eod', at, tradeDate, overrides } };
    }
    case 'limits':
    case 'exemption':
      if ((missing = need('account', 'product'))) return { ok: false, message: missing };
      for (const k of ['allMonths', 'spotMonth']) if (r[k] === undefined) return { ok: false, message: `\`${k}\` is required (whole lots)` };
      return {
        ok: true,
        command: { cmd: r.cmd, at, account: str(r, 'account')!, product: str(r, 'product')!, allMonths: r.allMonths, spotMonth: r.spotMonth },
      };
    default:
      return { ok: false, message: `unknown cmd ${JSON.stringify(r.cmd)}` };
  }
}
