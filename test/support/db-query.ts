/**
 * Reads a test system's database (a short-lived connection per call), for assertions on the log
 * and the projections. The older test files keep their own copies of these two helpers.
 */
import { openDataSource, sql, verifyChain } from '../../libs/persistence/src';
import type { System } from './system';

export async function queryRows<T extends Record<string, unknown>>(sys: System, text: string, params: unknown[] = []): Promise<T[]> {
  const ds = await openDataSource(sys.db.url);
  try {
    return (await sql<T>(ds, text, params)).rows;
  } finally {
    await ds.destroy();
  }
}

/** `count(*)` of a FROM clause (a table, with an optional WHERE). */
export async function countRows(sys: System, from: string): Promise<number> {
  return Number((await queryRows<{ n: string }>(sys, `SELECT count(*) AS n FROM ${from}`))[0].n);
}

/** The hash chain verified over the whole log. */
export async function verifyLog(sys: System): Promise<Awaited<ReturnType<typeof verifyChain>>> {
  const ds = await openDataSource(sys.db.url);
  try {
    return await verifyChain(ds);
  } finally {
    await ds.destroy();
  }
}
