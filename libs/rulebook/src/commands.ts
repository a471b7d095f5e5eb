/**
 * Scenario commands (SPEC §10) and their parsing. A scenario line is one JSON object; this module
 * checks its envelope (`at`, `cmd`, the identifiers a command needs) and leaves the order fields as
 * the member sent them, because a malformed order is an order rejection (INVALID_ORDER,
 * INVALID_TICK), not a malformed line.
 */
import { parseIsoDate } from '@ch/domain';

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
  | (At & { readonly cmd: 'exemption'; readonly account: string; readonly product: string });

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

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$/;
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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** n digits of `s` from `at` as a number; -1 when one is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * 'YYYY-MM-DDTHH:mm:ss.sssZ' naming a real instant (the log's and the wire's form) without a regular
 * expression or Date.parse: what the replay reads millions of times. null for anything else (month
 * 13, Feb 30, 24:00, a year before 1970...): the caller then takes the general path, so the answer
 * is always Date.parse's.
 */
function parseIsoMillis(s: string): number | null {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(23) !== 90) return null;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  const ms = digits(s, 20, 3);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) return null;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1])) return null;
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
}

/** Parses an ISO-8601 UTC instant ("2027-01-04T14:30:00.000Z") to epoch ms; null when malformed. */
export function parseInstant(text: unknown): number | null {
  if (typeof text === 'string' && text.length === 24) {
    const fast = parseIsoMillis(text);
    if (fast !== null) return fast;
  }
  if (typeof text !== 'string' || !ISO_UTC.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/** Epoch ms to ISO-8601 UTC with milliseconds. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
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
      return { ok: true, command: { cmd: 'list', at, instrument: str(r, 'instrument')!, referencePrice: (r.referencePrice) ?? null } };
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
        if (r.overrides === null || typeof r.overrides !== 'object' || Array.isArray(r.overrides)) return { ok: false, message: '`overrides` must be an object' };
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
    case 'exemption':
      if ((missing = need('account', 'product'))) return { ok: false, message: missing };
      return { ok: true, command: { cmd: 'exemption', at, account: str(r, 'account')!, product: str(r, 'product')! } };
    default:
      return { ok: false, message: `unknown cmd ${JSON.stringify(r.cmd)}` };
  }
}
