import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/** Anything that can run SQL: a DataSource (pooled, autocommit) or an EntityManager (possibly inside a transaction). */
export type Db = DataSource | EntityManager;

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

function isDataSource(db: Db): db is DataSource {
  return typeof (db as DataSource).createQueryRunner === 'function';
}

/**
 * Runs one statement and returns its rows and affected-row count whatever the command
 * (TypeORM's plain `query()` returns `[rows, count]` for UPDATE/DELETE and `rows` otherwise).
 */
export async function sql<R = Record<string, unknown>>(db: Db, text: string, params: unknown[] = []): Promise<SqlResult<R>> {
  let runner: QueryRunner;
  let owned = false;
  if (isDataSource(db)) {
    runner = db.createQueryRunner();
    owned = true;
  } else if (db.queryRunner && !db.queryRunner.isReleased) {
    runner = db.queryRunner;
  } else {
    runner = db.connection.createQueryRunner();
    owned = true;
  }
  try {
    const r = await runner.query(text, params, true);
    return { rows: (r.records ?? []) as R[], rowCount: r.affected ?? 0 };
  } finally {
    if (owned) await runner.release();
  }
}

/** The transaction-bound query runner of `manager`, or an error naming `what` when there is none. */
export function requireTransaction(manager: EntityManager, what: string): QueryRunner {
  const qr = manager.queryRunner;
  if (!qr || qr.isReleased || !qr.isTransactionActive) {
    throw new Error(`${what} must run inside a transaction (use dataSource.transaction(manager => ...))`);
  }
  return qr;
}

/** int8 columns arrive from pg as strings; converts one to a number, refusing unsafe values. */
export function toSafeNumber(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: ${String(v)} is not a safe integer`);
  return n;
}

/** Accepts an int64 as number/bigint/decimal string and returns its canonical decimal string. */
export function toInt64Text(v: number | bigint | string, what: string): string {
  let b: bigint;
  try {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error();
    if (typeof v === 'string' && !/^-?\d+$/.test(v)) throw new Error();
    b = BigInt(v);
  } catch {
    throw new Error(`${what}: ${String(v)} is not an integer`);
  }
  if (b < -(2n ** 63n) || b >= 2n ** 63n) throw new Error(`${what}: ${String(v)} is out of int64 range`);
  return b.toString();
}
