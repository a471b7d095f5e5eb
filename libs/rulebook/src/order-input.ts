/**
 * The form checks of an order as a member sends it (SPEC §4: INVALID_ORDER with the field,
 * INVALID_TICK). Shared by the API (order-intake answers 400 before anything is written) and the
 * in-process rulebook, so both refuse the same inputs with the same reason and field.
 */
import { isBoundedPrice, MAX_LOTS, parsePriceToTicks, type ProductSpec } from '@ch/domain';
import type { NewOrder, TimeInForce } from '@ch/matching';

export type OrderFormRejection = { readonly reason: 'INVALID_ORDER' | 'INVALID_TICK'; readonly field: string };

export interface OrderFields {
  readonly side: unknown;
  readonly type: unknown;
  readonly price?: unknown;
  readonly qty: unknown;
  readonly tif?: unknown;
}

const TIFS: readonly TimeInForce[] = ['GTC', 'DAY', 'IOC', 'FOK'];

/** Whole lots, at most MAX_LOTS (libs/domain/src/bounds.ts). */
export function isPositiveLots(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= MAX_LOTS;
}

/** A price as sent (decimal string) to ticks, at most MAX_PRICE_TICKS, or the form rejection. */
export function priceField(price: unknown, product: ProductSpec): { ticks: number } | OrderFormRejection {
  if (typeof price !== 'string') return { reason: 'INVALID_ORDER', field: 'price' };
  const p = parsePriceToTicks(price, product.tickCents);
  if (p.ok && !isBoundedPrice(p.ticks)) return { reason: 'INVALID_ORDER', field: 'price' };
  return p.ok ? { ticks: p.ticks } : { reason: p.reason, field: 'price' };
}

/**
 * Checks side, type, qty, price and tif in that order (first failure wins) and returns the
 * engine's order. Market orders carry no price and are IOC (a tif other than IOC is refused).
 */
export function validateOrderFields(
  account: string,
  clientOrderId: string,
  f: OrderFields,
  product: ProductSpec,
): { ok: true; order: NewOrder } | ({ ok: false } & OrderFormRejection) {
  const bad = (field: string, reason: 'INVALID_ORDER' | 'INVALID_TICK' = 'INVALID_ORDER') => ({ ok: false as const, reason, field });
  if (f.side !== 'buy' && f.side !== 'sell') return bad('side');
  if (f.type !== 'limit' && f.type !== 'market') return bad('type');
  if (!isPositiveLots(f.qty)) return bad('qty');
  const side = f.side;
  if (f.type === 'market') {
    if (f.price !== undefined && f.price !== null) return bad('price');
    if (f.tif !== undefined && f.tif !== null && f.tif !== 'IOC') return bad('tif');
    return { ok: true, order: { account, clientOrderId, side, type: 'market', tif: 'IOC', price: null, qty: f.qty } };
  }
  const price = priceField(f.price, product);
  if ('reason' in price) return { ok: false, ...price };
  const tif = f.tif === undefined || f.tif === null ? 'GTC' : f.tif;
  if (!TIFS.includes(tif as TimeInForce)) return bad('tif');
  return { ok: true, order: { account, clientOrderId, side, type: 'limit', tif: tif as TimeInForce, price: price.ticks, qty: f.qty } };
}

/**
 * What makes two submissions with the same clientOrderId the same order (SPEC §4: a retry with
 * the same id and content creates nothing; other content is DUPLICATE_CLIENT_ORDER_ID). Risk
 * records it with the id; order-intake compares a retry with it.
 */
export function clientOrderContent(instrument: string, order: Pick<NewOrder, 'side' | 'type' | 'tif' | 'price' | 'qty'>): string {
  return JSON.stringify([instrument, order.side, order.type, order.tif, order.price, order.qty]);
}
