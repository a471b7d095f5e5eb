/**
 * Event time on the wire: ISO-8601 UTC with milliseconds ("2027-01-04T14:30:00.000Z"); epoch
 * milliseconds inside the domain. Pure (no clock): parsing is of the text only.
 */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$/;

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
  if (
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 ||
    s.charCodeAt(23) !== 90
  )
    return null;
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
