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

function convert(value: unknown, key: string | null, toWire: boolean): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => convert(v, null, toWire));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = convert(v, k, toWire);
    return out;
  }
  if (key === null) return value;
  if (PRICE_FIELDS.has(key)) return toWire ? formatTicks(value as number) : parseCents(value as string);
  if (CENT_FIELDS.has(key)) return toWire ? formatCents(value as number) : parseCents(value as string);
  if (TIME_FIELDS.has(key)) {
    if (toWire) return formatInstant(value as number);
    const ms = parseInstant(value);
    if (ms === null) throw new Error(`bad instant in field ${key}: ${String(value)}`);
    return ms;
  }
  if (FLOAT_FIELDS.has(key)) return toWire ? String(value) : Number(value);
  return value;
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
