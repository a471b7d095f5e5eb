/**
 * Fetches publications of an index (index_values, written by intake in the publication's
 * transaction) as candidates for the pure rule that picks one (latestIndexTicks in
 * libs/domain/src/contracts/cutoff.ts). The query only bounds what is read.
 */
import type { EntityManager } from 'typeorm';
import type { IndexCandidate } from '@ch/domain';
import { formatInstant } from '@ch/rulebook';
import { sql } from '@ch/persistence';

const AT_MS = 'floor(extract(epoch FROM at) * 1000)::int8 AS at_ms';

/** The publications after `sinceExclusive` (the last settlement's cut-off) up to `until`, in log order: the session's values. */
export async function sessionIndexValues(manager: EntityManager, index: string, sinceExclusive: number | null, until: number): Promise<IndexCandidate[]> {
  const r = await sql<{ at_ms: string; value_e4: string }>(
    manager,
    `SELECT ${AT_MS}, value_e4 FROM index_values WHERE index_code = $1 AND at <= $2 AND ($3::timestamptz IS NULL OR at > $3::timestamptz)
     ORDER BY at, seq`,
    [index, formatInstant(until), sinceExclusive === null ? null : formatInstant(sinceExclusive)],
  );
  return r.rows.map((row) => ({ at: Number(row.at_ms), valueE4: Number(row.value_e4) }));
}

/** The newest publication at or before `until` (none or one): the candidates for a successor's reference price. */
export async function newestIndexValue(manager: EntityManager, index: string, until: number): Promise<IndexCandidate[]> {
  const r = await sql<{ at_ms: string; value_e4: string }>(
    manager,
    `SELECT ${AT_MS}, value_e4 FROM index_values WHERE index_code = $1 AND at <= $2 ORDER BY at DESC, seq DESC LIMIT 1`,
    [index, formatInstant(until)],
  );
  return r.rows.map((row) => ({ at: Number(row.at_ms), valueE4: Number(row.value_e4) }));
}
