/**
 * The `matching_orders` projection (matching alone writes it; readers read the view `orders`, which
 * adds risk's `rejected_orders`, ADR 0016): each member order's current state. Changes of a
 * batch are folded in memory and written with two statements (insert the batch's new orders,
 * update the others by delta), so a busy batch costs two round trips, not one per event.
 */
import type { EntityManager } from 'typeorm';
import type { MatchingEvent } from '@ch/matching';
import type { OrderRejected } from '@ch/messages';
import { formatInstant } from '@ch/rulebook';
import { sql } from '@ch/persistence';

interface NewRow {
  account: string;
  clientOrderId: string;
  instrument: string;
  orderId: number | null;
  side: string;
  orderType: string;
  tif: string;
  price: number | null;
  qty: number;
  open: number;
  filled: number;
  status: string;
  reason: string | null;
  at: number;
}

interface Change {
  filledDelta: number;
  open: number | null;
  status: string | null;
  reason: string | null;
  price: number | null;
  qtyFromReplace: number | null;
  at: number;
}

export class OrderProjection {
  private inserts = new Map<string, NewRow>();
  private changes = new Map<string, Change>();

  /** An engine's event, or matching's own refusal of a command for an unknown instrument. */
  apply(e: MatchingEvent | OrderRejected): void {
    switch (e.type) {
      case 'OrderAccepted':
        this.inserts.set(key(e.account, e.clientOrderId), {
          account: e.account,
          clientOrderId: e.clientOrderId,
          instrument: e.instrument,
          orderId: e.orderId,
          side: e.side,
          orderType: e.orderType,
          tif: e.tif,
          price: e.price,
          qty: e.qty,
          open: e.qty,
          filled: 0,
          status: 'open',
          reason: null,
          at: e.at,
        });
        break;
      case 'OrderRejected':
        // A rejected new order is recorded unless the id already names an order (a duplicate).
        if (e.command === 'new' && e.account && e.clientOrderId && !this.inserts.has(key(e.account, e.clientOrderId))) {
          this.inserts.set(key(e.account, e.clientOrderId), {
            account: e.account,
            clientOrderId: e.clientOrderId,
            instrument: e.instrument,
            orderId: null,
            side: '',
            orderType: '',
            tif: '',
            price: null,
            qty: 0,
            open: 0,
            filled: 0,
            status: 'rejected',
            reason: e.reason,
            at: e.at,
          });
        }
        break;
      case 'Trade':
        this.fill(e.buyAccount, e.buyClientOrderId, e.qty, e.buyLeavesQty, e.at);
        this.fill(e.sellAccount, e.sellClientOrderId, e.qty, e.sellLeavesQty, e.at);
        break;
      case 'OrderCancelled':
        this.close(e.account, e.clientOrderId, 'cancelled', e.reason, e.at);
        break;
      case 'OrderExpired':
        this.close(e.account, e.clientOrderId, 'expired', e.reason, e.at);
        break;
      case 'OrderReplaced': {
        const k = key(e.account, e.clientOrderId);
        const row = this.inserts.get(k);
        if (row) {
          row.qty += e.newQty - row.open;
          row.open = e.newQty;
          row.price = e.newPrice;
          row.at = e.at;
        } else {
          const c = this.change(k, e.at);
          c.open = e.newQty;
          c.price = e.newPrice;
          c.qtyFromReplace = e.newQty;
          c.status = null;
        }
        break;
      }
      default:
        break;
    }
  }

  private fill(account: string, clientOrderId: string, qty: number, leaves: number, at: number): void {
    const k = key(account, clientOrderId);
    const row = this.inserts.get(k);
    if (row) {
      row.filled += qty;
      row.open = leaves;
      row.status = leaves === 0 ? 'filled' : 'partially_filled';
      row.at = at;
      return;
    }
    const c = this.change(k, at);
    c.filledDelta += qty;
    c.open = leaves;
    c.status = leaves === 0 ? 'filled' : 'partially_filled';
  }

  private close(account: string, clientOrderId: string, status: string, reason: string, at: number): void {
    const k = key(account, clientOrderId);
    const row = this.inserts.get(k);
    if (row) {
      row.open = 0;
      // An order that traded and had its remainder cancelled keeps the cancel as its final state.
      row.status = status;
      row.reason = reason;
      row.at = at;
      return;
    }
    const c = this.change(k, at);
    c.open = 0;
    c.status = status;
    c.reason = reason;
  }

  private change(k: string, at: number): Change {
    let c = this.changes.get(k);
    if (!c) this.changes.set(k, (c = { filledDelta: 0, open: null, status: null, reason: null, price: null, qtyFromReplace: null, at }));
    c.at = at;
    return c;
  }

  async flush(manager: EntityManager): Promise<void> {
    if (this.inserts.size) {
      const rows = [...this.inserts.values()];
      await sql(
        manager,
        `INSERT INTO matching_orders (account_id, client_order_id, instrument, order_id, side, order_type, tif, price, qty, open_qty, filled_qty, status, reason, updated_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::timestamptz[])
         ON CONFLICT (account_id, client_order_id) DO NOTHING`,
        [
          rows.map((r) => r.account),
          rows.map((r) => r.clientOrderId),
          rows.map((r) => r.instrument),
          rows.map((r) => r.orderId),
          rows.map((r) => r.side),
          rows.map((r) => r.orderType),
          rows.map((r) => r.tif),
          rows.map((r) => r.price),
          rows.map((r) => r.qty),
          rows.map((r) => r.open),
          rows.map((r) => r.filled),
          rows.map((r) => r.status),
          rows.map((r) => r.reason),
          rows.map((r) => formatInstant(r.at)),
        ],
      );
    }
    if (this.changes.size) {
      const ks = [...this.changes.keys()];
      const cs = ks.map((k) => this.changes.get(k)!);
      await sql(
        manager,
        `UPDATE matching_orders o SET
           filled_qty = o.filled_qty + d.fd,
           open_qty   = COALESCE(d.open, o.open_qty),
           qty        = CASE WHEN d.rq IS NULL THEN o.qty ELSE o.filled_qty + d.fd + d.rq END,
           price      = COALESCE(d.price, o.price),
           status     = COALESCE(d.status, CASE WHEN d.rq IS NOT NULL THEN o.status END, o.status),
           reason     = COALESCE(d.reason, o.reason),
           updated_at = d.at
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::timestamptz[])
           AS d(a, c, fd, open, status, reason, price, rq, at)
         WHERE o.account_id = d.a AND o.client_order_id = d.c`,
        [
          ks.map((k) => k.split('\u0000')[0]),
          ks.map((k) => k.split('\u0000')[1]),
          cs.map((c) => c.filledDelta),
          cs.map((c) => c.open),
          cs.map((c) => c.status),
          cs.map((c) => c.reason),
          cs.map((c) => c.price),
          cs.map((c) => c.qtyFromReplace),
          cs.map((c) => formatInstant(c.at)),
        ],
      );
    }
    this.inserts.clear();
    this.changes.clear();
  }
}

function key(account: string, clientOrderId: string): string {
  return `${account}\u0000${clientOrderId}`;
}
