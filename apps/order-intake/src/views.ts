/** Projection rows as the API shows them: decimal strings for prices and money, ISO times. */
import { formatCents } from '@ch/domain';
import { EVENT_CODEC } from '@ch/messages';

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
/** A price column (integer ticks) as a decimal in the tick of the instrument's product. */
const price = (v: unknown, instrument: string): string | null => (v === null || v === undefined ? null : EVENT_CODEC.priceToWire(instrument, num(v)));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

export function orderRow(r: Row) {
  return {
    account: r.account_id,
    clientOrderId: r.client_order_id,
    instrument: r.instrument,
    orderId: r.order_id === null ? null : num(r.order_id),
    side: r.side || null,
    type: r.order_type || null,
    tif: r.tif || null,
    price: price(r.price, String(r.instrument)),
    qty: num(r.qty),
    openQty: num(r.open_qty),
    filledQty: num(r.filled_qty),
    status: r.status,
    reason: r.reason ?? null,
    updatedAt: iso(r.updated_at),
  };
}

/** A wire value as text: a string, number or boolean as String prints it; an object as JSON, never "[object Object]". */
export function textOf(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

export function cents(v: unknown): string {
  return formatCents(num(v));
}

export { price as priceOf, iso };
