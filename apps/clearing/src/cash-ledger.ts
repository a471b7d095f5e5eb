/**
 * Clearing's cash ledger in SQL: the set-based posting of an instrument's variation margin, and one
 * cash movement. The books of record are clearing's alone (cash_balances, cash_ledger,
 * variation_margin).
 */
import type { EntityManager } from 'typeorm';
import { sql } from '@ch/persistence';

/**
 * Posts one instrument's variation margin for a trade date in a few set-based statements (each
 * account appears once): the non-zero amounts to the cash balances and the cash ledger, every
 * amount to `variation_margin`. Returns each account's balance after the posting.
 */
export async function postVariationMargin(
  manager: EntityManager,
  vm: { account: string; amount: number }[],
  instrument: string,
  tradeDate: string,
  at: string,
): Promise<Map<string, number>> {
  const balances = new Map<string, number>();
  if (!vm.length) return balances;
  const moved = vm.filter((v) => v.amount !== 0);
  if (moved.length) {
    const r = await sql<{ account_id: string; balance: string }>(
      manager,
      `INSERT INTO cash_balances (account_id, balance) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (account_id) DO UPDATE SET balance = cash_balances.balance + EXCLUDED.balance RETURNING account_id, balance`,
      [moved.map((v) => v.account), moved.map((v) => v.amount)],
    );
    for (const row of r.rows) balances.set(row.account_id, Number(row.balance));
    await sql(
      manager,
      `INSERT INTO cash_ledger (account_id, kind, amount, balance_after, reference, at)
       SELECT a, 'variation_margin', x, b, $4::text, $5::timestamptz FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(a, x, b, n) ORDER BY n`,
      [moved.map((v) => v.account), moved.map((v) => v.amount), moved.map((v) => balances.get(v.account)), `vm:${tradeDate}:${instrument}`, at],
    );
  }
  const still = vm.filter((v) => v.amount === 0).map((v) => v.account);
  if (still.length) {
    const r = await sql<{ account_id: string; balance: string }>(manager, 'SELECT account_id, balance FROM cash_balances WHERE account_id = ANY($1::text[])', [
      still,
    ]);
    for (const row of r.rows) balances.set(row.account_id, Number(row.balance));
  }
  await sql(
    manager,
    `INSERT INTO variation_margin (account_id, instrument, trade_date, amount, at) SELECT a, $3::text, $4::date, x, $5::timestamptz FROM unnest($1::text[], $2::bigint[]) AS u(a, x)`,
    [vm.map((v) => v.account), vm.map((v) => v.amount), instrument, tradeDate, at],
  );
  return balances;
}

/** Posts to the cash ledger; returns the new balance. */
export async function applyCash(manager: EntityManager, account: string, amount: number, kind: string, reference: string, at: string): Promise<number> {
  const r = await sql<{ balance: string }>(
    manager,
    `INSERT INTO cash_balances (account_id, balance) VALUES ($1, $2)
     ON CONFLICT (account_id) DO UPDATE SET balance = cash_balances.balance + EXCLUDED.balance RETURNING balance`,
    [account, amount],
  );
  const balance = Number(r.rows[0].balance);
  await sql(manager, 'INSERT INTO cash_ledger (account_id, kind, amount, balance_after, reference, at) VALUES ($1, $2, $3, $4, $5, $6)', [
    account,
    kind,
    amount,
    balance,
    reference,
    at,
  ]);
  return balance;
}
