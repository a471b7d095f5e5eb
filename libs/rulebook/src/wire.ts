/**
 * The wire form of the rulebook's events: what goes into the event log and onto Kafka. Inside the
 * domain a price is ticks, cash is cents and time is epoch ms; on the wire they are decimal strings
 * ("2.05", "-12.50") and ISO-8601 UTC instants, as SPEC §2 and §9 require. σ travels as the
 * shortest decimal string that round-trips the double exactly, so the log's canonical JSON holds no
 * binary floating point.
 *
 * Conversion is by field name, so a field name means one unit everywhere (checked by the tests).
 */
import { formatCents, formatTicks, parseCents } from '@ch/domain';
import { formatInstant, parseInstant } from './commands';
import type { RulebookEvent } from './events';

const PRICE_FIELDS = new Set(['price', 'referencePrice', 'previousPrice', 'finalPrice', 'oldPrice', 'newPrice', 'previousReferencePrice', 'lo', 'hi']);
const CENT_FIELDS = new Set(['amount', 'callsPaid', 'equity', 'im', 'mm', 'cash']);
const TIME_FIELDS = new Set(['at', 'start', 'end']);
const FLOAT_FIELDS = new Set(['sigma']);

const PRICE = 1;
const CENT = 2;
const TIME = 3;
const FLOAT = 4;
const KIND = new Map<string, number>([
  ...[...PRICE_FIELDS].map((k) => [k, PRICE] as [string, number]),
  ...[...CENT_FIELDS].map((k) => [k, CENT] as [string, number]),
  ...[...TIME_FIELDS].map((k) => [k, TIME] as [string, number]),
  ...[...FLOAT_FIELDS].map((k) => [k, FLOAT] as [string, number]),
]);

/**
 * Parsing memos (pure functions of the text, so remembering them changes nothing but speed): a log
 * repeats the same few prices and, within one command's events, the same instant.
 */
const MEMO_LIMIT = 4096;
const parsedDecimals = new Map<string, number>();
let lastInstantText: unknown = null;
let lastInstantMs = 0;

function parseDecimal(text: string): number {
  let v = parsedDecimals.get(text);
  if (v === undefined) {
    v = parseCents(text); // throws on a malformed value, which is then not remembered
    if (parsedDecimals.size >= MEMO_LIMIT) parsedDecimals.clear();
    parsedDecimals.set(text, v);
  }
  return v;
}

function leaf(kind: number, key: string, value: unknown, toWire: boolean): unknown {
  switch (kind) {
    case PRICE:
      return toWire ? formatTicks(value as number) : parseDecimal(value as string);
    case CENT:
      return toWire ? formatCents(value as number) : parseDecimal(value as string);
    case TIME: {
      if (toWire) return formatInstant(value as number);
      if (value === lastInstantText) return lastInstantMs;
      const ms = parseInstant(value);
      if (ms === null) throw new Error(`bad instant in field ${key}: ${String(value)}`);
      lastInstantText = value;
      lastInstantMs = ms;
      return ms;
    }
    default:
      return toWire ? String(value) : Number(value);
  }
}

function convert(value: unknown, key: string | null, toWire: boolean): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== 'object') {
    if (key === null) return value;
    const kind = KIND.get(key);
    return kind === undefined ? value : leaf(kind, key, value, toWire);
  }
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = convert(value[i], null, toWire);
    return out;
  }
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = convert(o[k], k, toWire);
  return out;
}

/**
 * What eventFromWire does to a primitive value (not null, not an object or array) found under
 * `key`: the conversion, or null when it leaves such values as they are (and always for array
 * elements, which have no key). For a decoder that converts field by field as it reads, without
 * building the wire object first (the auditor's log reader), and must agree with eventFromWire.
 */
export function fromWireLeaf(key: string): ((value: unknown) => unknown) | null {
  const kind = KIND.get(key);
  return kind === undefined ? null : (value: unknown) => leaf(kind, key, value, false);
}

/** A domain event to its wire payload (the event's `type` stays, `at` becomes ISO). */
export function eventToWire(e: RulebookEvent): Record<string, unknown> {
  return convert(e, null, true) as Record<string, unknown>;
}

/** A wire payload back to the domain event. */
export function eventFromWire(payload: Record<string, unknown>): RulebookEvent {
  return convert(payload, null, false) as RulebookEvent;
}

/** Converts any payload object by the same field rules (commands use it too). */
export function toWire<T>(value: T): unknown {
  return convert(value, null, true);
}

export function fromWire<T>(value: unknown): T {
  return convert(value, null, false) as T;
}
