import { canonicalJson } from './canonical-json';
import { type Db, sql, toSafeNumber } from './db';

/**
 * Snapshots of in-memory state (an order book, a clearing shard) at a position, so a restart or
 * an audit replay starts from the snapshot and applies only later events. `owner` names the
 * state ('matching:SIT-2027-03'); `position` is what the state includes (typically the last
 * event-log seq or streamSeq applied - the owner decides and documents which). `version` is the
 * state's schema version. State is JSON by canonicalJson's rules (no floats, no big numbers).
 */

export interface Snapshot<S = unknown> {
  id: string;
  owner: string;
  position: number;
  version: number;
  takenAt: Date;
  state: S;
}

/** Stores a snapshot (in the caller's transaction when given its EntityManager); returns its id. */
export async function saveSnapshot(db: Db, owner: string, position: number, state: unknown, opts: { version?: number } = {}): Promise<string> {
  if (!Number.isSafeInteger(position) || position < 0) throw new Error(`position ${position} is not a non-negative integer`);
  const r = await sql<{ id: string }>(db, 'INSERT INTO snapshots (owner, position, version, state) VALUES ($1, $2, $3, $4::jsonb) RETURNING id', [
    owner,
    position,
    opts.version ?? 1,
    canonicalJson(state),
  ]);
  return r.rows[0].id;
}

/**
 * The latest snapshot of `owner` (highest id), or null. With `atOrBefore`, the one with the highest
 * position at or before it (to replay to a point in the past).
 */
export async function loadLatestSnapshot<S = unknown>(db: Db, owner: string, opts: { atOrBefore?: number } = {}): Promise<Snapshot<S> | null> {
  const params: unknown[] = [owner];
  let cond = '';
  let order = 'id DESC';
  if (opts.atOrBefore !== undefined) {
    params.push(opts.atOrBefore);
    cond = ' AND position <= $2';
    order = 'position DESC, id DESC';
  }
  const r = await sql<{ id: string; owner: string; position: string; version: number; taken_at: Date; state: S }>(
    db,
    `SELECT id, owner, position, version, taken_at, state FROM snapshots WHERE owner = $1${cond} ORDER BY ${order} LIMIT 1`,
    params,
  );
  if (r.rows.length === 0) return null;
  const row = r.rows[0];
  return {
    id: row.id,
    owner: row.owner,
    position: toSafeNumber(row.position, 'snapshots.position'),
    version: row.version,
    takenAt: row.taken_at,
    state: row.state,
  };
}
