/** Projection rows as the API shows them: decimal strings for prices and money, ISO times. */
import { formatCents, formatTicks } from '@ch/domain';

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const price = (v: unknown): string | null => (v === null || v === undefined ? null : formatTicks(num(v)));
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
    price: price(r.price),
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
