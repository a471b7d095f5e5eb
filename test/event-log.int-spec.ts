/**
 * The event log, its hash chain and the effectively-once helpers against a real PostgreSQL
 * (SPEC §9). Every describe block that tampers with the log gets its own database.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { Client } from 'pg';
import { type DataSource } from 'typeorm';
import {
  CanonicalJsonError,
  GENESIS_HASH,
  InvalidEventError,
  MIGRATIONS,
  type NewEvent,
  ProgressRegressionError,
  type StoredEvent,
  appendEvents,
  chainHead,
  computeEventHash,
  createDataSource,
  ensureDatabase,
  enqueue,
  fetchUnpublished,
  lastSeq,
  lastStreamSeq,
  loadLatestSnapshot,
  loadNextOffsets,
  loadStreamSeqs,
  markPublished,
  readEventBatches,
  readEvents,
  runMigrations,
  saveNextOffset,
  saveSnapshot,
  saveStreamSeq,
  verifyChain,
  withDatabase,
} from '@ch/persistence';
import { type TestDatabase, createTestDatabase, ensurePostgres } from './support/postgres';

const ROOT = path.resolve(__dirname, '..');

let counter = 0;
function ev(stream: string, streamSeq: number, payload: unknown = { n: streamSeq }, extra: Partial<NewEvent> = {}): NewEvent {
  counter++;
  return {
    type: 'TestHappened',
    version: 1,
    stream,
    streamSeq,
    at: new Date(Date.UTC(2027, 0, 4, 14, 30, 0, 0) + counter).toISOString(),
    actor: 'system:test',
    correlationId: `corr-${stream}-${streamSeq}`,
    payload,
    ...extra,
  };
}

function batchOf(stream: string, from: number, n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ev(stream, from + i, { i: from + i, price: '2.05', side: i % 2 ? 'buy' : 'sell' }));
}

async function append(ds: DataSource, events: NewEvent[]): Promise<StoredEvent[]> {
  return ds.transaction((m) => appendEvents(m, events));
}

async function all(ds: DataSource): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of readEvents(ds)) out.push(e);
  return out;
}

/** A raw superuser connection, to tamper "directly in Postgres" as an auditor test would. */
async function superuser(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

async function tamper(url: string, statements: string[]): Promise<void> {
  const c = await superuser(url);
  try {
    await c.query('ALTER TABLE event_log DISABLE TRIGGER event_log_append_only');
    for (const s of statements) await c.query(s);
    await c.query('ALTER TABLE event_log ENABLE TRIGGER event_log_append_only');
  } finally {
    await c.end();
  }
}

function runCli(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', path.join(ROOT, 'scripts/verify-log.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  await ensurePostgres();
});

describe('migrations and bootstrap', () => {
  it('ensureDatabase creates a missing database exactly once under a race', async () => {
    const probe = await createTestDatabase('ensure', { migrate: false });
    await probe.drop(); // take a fresh unique name that does not exist
    try {
      const results = await Promise.all([1, 2, 3, 4].map(() => ensureDatabase(probe.url)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await ensureDatabase(probe.url)).toBe(false);
    } finally {
      await probe.drop();
    }
  });

  it('runs migrations from several processes at once without racing, and only once', async () => {
    const db = await createTestDatabase('migrate', { migrate: false });
    const sources = [0, 1, 2].map(() => createDataSource(db.url, { poolSize: 2 }));
    try {
      await Promise.all(sources.map((s) => s.initialize()));
      const applied = await Promise.all(sources.map((s) => runMigrations(s)));
      // One process applied every migration; the others waited on the lock and found none pending.
      expect(applied.map((a) => a.length).sort()).toEqual([0, 0, MIGRATIONS.length]);
      expect(await runMigrations(sources[0])).toEqual([]);
      const tables = await sources[0].query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
      expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual(
        expect.arrayContaining(['consumer_progress', 'event_log', 'event_log_head', 'outbox', 'snapshots', 'stream_progress']),
      );
      expect(await chainHead(sources[0])).toEqual({ lastSeq: 0, lastHash: GENESIS_HASH });
      expect(await verifyChain(sources[0])).toEqual({ ok: true, fromSeq: 1, lastSeq: 0, count: 0 });
    } finally {
      await Promise.all(sources.filter((s) => s.isInitialized).map((s) => s.destroy()));
      await db.drop();
    }
  });
});

describe('appending', () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase('append');
    ds = createDataSource(db.url, { poolSize: 12 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('assigns seq from 1, chains the hashes and stores exactly what it returns', async () => {
    const payload = {
      zeta: 'last',
      alpha: { nested: [1, -2, { b: true, a: null }], big: '9007199254740993', price: '-1234.50' },
      text: 'quotes " \\ é 🚀 \n',
      max: Number.MAX_SAFE_INTEGER,
    };
    const stored = await append(ds, [
      ev('matching:SIT-2027-03', 1, payload, { causationId: 'cmd-1', source: 'ch.matching-commands/2/17', actor: 'member:M001' }),
      ev('matching:SIT-2027-03', 2),
    ]);
    expect(stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(stored[0].prevHash).toBe(GENESIS_HASH);
    expect(stored[1].prevHash).toBe(stored[0].hash);
    expect(stored[0].hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0].hash).toBe(computeEventHash(stored[0]));
    expect(stored[0].eventId).toMatch(/^[0-9a-f-]{36}$/);

    const read = await all(ds);
    expect(read).toEqual(stored);
    expect(read[0].payload).toEqual(payload);
    expect(await chainHead(ds)).toEqual({ lastSeq: 2, lastHash: stored[1].hash });
    expect(await verifyChain(ds)).toMatchObject({ ok: true, lastSeq: 2, count: 2 });
  });

  it('keeps a caller-supplied eventId (lower-cased) and refuses a duplicate one', async () => {
    const id = '0B7C6C8E-3F4A-4E4B-9B1E-2D8F0C1A2B3C';
    const [e] = await append(ds, [ev('ids', 1, {}, { eventId: id })]);
    expect(e.eventId).toBe(id.toLowerCase());
    await expect(append(ds, [ev('ids', 2, {}, { eventId: id.toLowerCase() })])).rejects.toThrow(/event_log_event_id_key/);
    await expect(append(ds, [ev('ids', 1)])).rejects.toThrow(/event_log_stream_seq_key/);
    expect(await verifyChain(ds)).toMatchObject({ ok: true });
  });

  it('rejects events that could not be stored and re-read exactly, before writing anything', async () => {
    const before = await lastSeq(ds);
    const bad: [Partial<NewEvent>, RegExp][] = [
      [{ payload: { price: 2.05 } }, /payload.*not a safe integer/],
      [{ payload: { qty: 2 ** 60 } }, /payload/],
      [{ at: '2027-01-04T14:30:00Z' }, /at must be ISO-8601/],
      [{ at: '2027-01-04T14:30:00.000123Z' }, /at must be ISO-8601/],
      [{ version: 0 }, /version/],
      [{ streamSeq: 0 }, /streamSeq/],
      [{ actor: '' }, /actor/],
      [{ eventId: 'not-a-uuid' }, /eventId/],
      [{ source: 'nul\u0000' }, /source/],
    ];
    for (const [patch, msg] of bad) {
      await expect(append(ds, [ev('bad', 1), { ...ev('bad', 2), ...patch }])).rejects.toThrow(msg);
    }
    await expect(append(ds, [ev('bad', 1, { x: 1.5 })])).rejects.toBeInstanceOf(InvalidEventError);
    expect(await lastSeq(ds)).toBe(before);
    expect(CanonicalJsonError).toBeDefined();
  });

  it('refuses to append outside a transaction', async () => {
    await expect(appendEvents(ds.manager, [ev('notx', 1)])).rejects.toThrow(/inside a transaction/);
  });

  it('a rolled-back transaction leaves no gap', async () => {
    const before = await lastSeq(ds);
    await expect(
      ds.transaction(async (m) => {
        await appendEvents(m, batchOf('rollback', 1, 5));
        throw new Error('business rule failed after appending');
      }),
    ).rejects.toThrow(/business rule/);
    expect(await lastSeq(ds)).toBe(before);
    const [next] = await append(ds, [ev('rollback', 1)]);
    expect(next.seq).toBe(before + 1);
    expect(await verifyChain(ds)).toMatchObject({ ok: true, lastSeq: before + 1 });
  });

  it('several concurrent writers (and failing ones) produce one gap-free chain', async () => {
    const start = await lastSeq(ds);
    const WRITERS = 4;
    const PER_WRITER = 200;
    const BATCH = 10;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < PER_WRITER; i += BATCH) {
        await append(ds, batchOf(`risk:account-shard-${w}`, i + 1, BATCH));
      }
    };
    const saboteur = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        await ds
          .transaction(async (m) => {
            await appendEvents(m, batchOf('saboteur', 1, 3));
            throw new Error('rollback');
          })
          .catch(() => undefined);
      }
    };
    await Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), saboteur()]);

    const events = await all(ds);
    const fresh = events.filter((e) => e.seq > start);
    expect(fresh).toHaveLength(WRITERS * PER_WRITER);
    expect(fresh.map((e) => e.seq)).toEqual(Array.from({ length: WRITERS * PER_WRITER }, (_, i) => start + 1 + i));
    for (let w = 0; w < WRITERS; w++) {
      const mine = fresh.filter((e) => e.stream === `risk:account-shard-${w}`).map((e) => e.streamSeq);
      expect(mine).toEqual(Array.from({ length: PER_WRITER }, (_, i) => i + 1));
    }
    expect(fresh.some((e) => e.stream === 'saboteur')).toBe(false);
    expect(await verifyChain(ds, { batchSize: 97 })).toMatchObject({ ok: true, lastSeq: start + WRITERS * PER_WRITER });
  });

  it('readEvents streams in seq order across batches, with from/to and a stream filter', async () => {
    const head = await lastSeq(ds);
    let prev = 0;
    let batches = 0;
    for await (const batch of readEventBatches(ds, { batchSize: 64 })) {
      batches++;
      expect(batch.length).toBeLessThanOrEqual(64);
      for (const e of batch) {
        expect(e.seq).toBe(prev + 1);
        prev = e.seq;
      }
    }
    expect(prev).toBe(head);
    expect(batches).toBe(Math.ceil(head / 64));

    const window: number[] = [];
    for await (const e of readEvents(ds, { fromSeq: 10, toSeq: 19, batchSize: 3 })) window.push(e.seq);
    expect(window).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const shard: number[] = [];
    for await (const e of readEvents(ds, { stream: 'risk:account-shard-2', batchSize: 50 })) shard.push(e.streamSeq);
    expect(shard).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('a large batch (chunked inserts) appends in one call', async () => {
    const before = await lastSeq(ds);
    const stored = await append(ds, batchOf('bulk', 1, 4500));
    expect(stored[0].seq).toBe(before + 1);
    expect(stored[4499].seq).toBe(before + 4500);
    expect(await verifyChain(ds, { fromSeq: before })).toMatchObject({ ok: true, lastSeq: before + 4500, count: 4501 });
  });

  it('measures append throughput (batches of 100; 1 writer and 4 writers)', async () => {
    let run = 0;
    const measure = async (writers: number, batchesPerWriter: number): Promise<number> => {
      run++;
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let b = 0; b < batchesPerWriter; b++) await append(ds, batchOf(`perf-${run}-${w}`, b * 100 + 1, 100));
        }),
      );
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      return Math.round((writers * batchesPerWriter * 100) / secs);
    };
    await measure(1, 5); // warm up
    const one = await measure(1, 100);
    const four = await measure(4, 50);
    const head = await lastSeq(ds);
    const t0 = Date.now();
    const v = await verifyChain(ds);
    const verifyRate = Math.round(head / ((Date.now() - t0) / 1000));
    expect(v.ok).toBe(true);
    console.log(`event log: append ${one} events/s (1 writer, batches of 100), ${four} events/s (4 writers); verify ${verifyRate} events/s over ${head}`);
    // The spec's load is 5,000 orders/s; leave a margin for loaded CI machines.
    expect(one).toBeGreaterThan(2_000);
  });
});

describe('the append-only trigger', () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase('trigger');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    await append(ds, batchOf('t', 1, 3));
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it.each([
    ["UPDATE event_log SET payload = '{}' WHERE seq = 2", /append-only: UPDATE/],
    ['DELETE FROM event_log WHERE seq = 3', /append-only: DELETE/],
    ['TRUNCATE event_log', /append-only: TRUNCATE/],
    ['UPDATE event_log SET actor = actor WHERE false', /append-only: UPDATE/],
    ['DELETE FROM event_log_head', /event_log_head: DELETE/],
    ['UPDATE event_log_head SET last_seq = 1', /only move forward/],
    ['TRUNCATE event_log_head', /event_log_head: TRUNCATE/],
  ])('rejects %s', async (statement, message) => {
    await expect(ds.query(statement)).rejects.toThrow(message);
    expect(await lastSeq(ds)).toBe(3);
    expect(await verifyChain(ds)).toMatchObject({ ok: true, count: 3 });
  });
});

describe('tamper detection (auditor view)', () => {
  const N = 12;
  let db: TestDatabase;
  let ds: DataSource;
  let original: StoredEvent[];

  beforeEach(async () => {
    db = await createTestDatabase('tamper');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
    original = await append(ds, batchOf('matching:SIT-2027-03', 1, N));
  });
  afterEach(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('an intact log verifies, and the CLI exits 0', async () => {
    expect(await verifyChain(ds)).toEqual({ ok: true, fromSeq: 1, lastSeq: N, count: N });
    expect(await verifyChain(ds, { fromSeq: 5 })).toEqual({ ok: true, fromSeq: 5, lastSeq: N, count: N - 4 });
    const cli = await runCli(db.url);
    expect(cli.code).toBe(0);
    expect(cli.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, lastSeq: N, count: N });
  });

  it("altering one event's payload is a hash mismatch at that seq, and the CLI exits 1", async () => {
    await tamper(db.url, [`UPDATE event_log SET payload = jsonb_set(payload::jsonb, '{price}', '"0.01"') WHERE seq = 7`]);
    const r = await verifyChain(ds, { batchSize: 5 });
    expect(r).toMatchObject({ ok: false, brokenAt: 7, kind: 'hash-mismatch', found: original[6].hash, count: 6 });
    const cli = await runCli(db.url);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, brokenAt: 7, kind: 'hash-mismatch' });
  });

  it.each([
    ["actor = 'member:M666'", 'actor'],
    ["at = at + interval '1 millisecond'", 'event time'],
    ['stream_seq = stream_seq + 100', 'stream seq'],
    ["type = 'Forged'", 'type'],
    ["causation_id = 'forged', source = 'ch.orders/0/1'", 'provenance'],
  ])('altering %s (%s) is a hash mismatch', async (set) => {
    await tamper(db.url, [`UPDATE event_log SET ${set} WHERE seq = 4`]);
    expect(await verifyChain(ds)).toMatchObject({ ok: false, brokenAt: 4, kind: 'hash-mismatch' });
  });

  it('recorded_at is not covered by the hash', async () => {
    await tamper(db.url, [`UPDATE event_log SET recorded_at = recorded_at - interval '1 day' WHERE seq = 4`]);
    expect(await verifyChain(ds)).toMatchObject({ ok: true });
  });

  it('storing the payload with its keys in another order and other spacing does not break the hash (canonical form)', async () => {
    const payload = original[3].payload as Record<string, unknown>;
    const rewritten = `{ ${Object.keys(payload)
      .reverse()
      .map((k) => `${JSON.stringify(k)} :${JSON.stringify(payload[k])}`)
      .join(' ,')} }`;
    await tamper(db.url, [`UPDATE event_log SET payload = '${rewritten.replace(/'/g, "''")}'::json WHERE seq = 4`]);
    const stored = await ds.query(`SELECT payload::text AS text FROM event_log WHERE seq = 4`);
    expect(stored[0].text).toBe(rewritten); // json keeps the text as given
    expect(await verifyChain(ds)).toMatchObject({ ok: true });
  });

  it('an altered event whose hash was recomputed breaks the next link', async () => {
    const forged = { ...original[6], payload: { ...(original[6].payload as object), price: '0.01' } };
    const forgedHash = computeEventHash(forged);
    await tamper(db.url, [`UPDATE event_log SET payload = jsonb_set(payload::jsonb, '{price}', '"0.01"'), hash = '${forgedHash}' WHERE seq = 7`]);
    expect(await verifyChain(ds)).toMatchObject({
      ok: false,
      brokenAt: 8,
      kind: 'prev-hash-mismatch',
      expected: forgedHash,
      found: original[6].hash,
    });
  });

  it('deleting an event in the middle is a gap named at the missing seq', async () => {
    await tamper(db.url, ['DELETE FROM event_log WHERE seq = 5']);
    const r = await verifyChain(ds);
    expect(r).toMatchObject({ ok: false, brokenAt: 5, kind: 'gap', expected: 'seq 5', found: 'seq 6', count: 4 });
    if (!r.ok) expect(r.message).toMatch(/event 5 is missing/);
  });

  it('deleting several events in the middle names the first missing one', async () => {
    await tamper(db.url, ['DELETE FROM event_log WHERE seq BETWEEN 3 AND 6']);
    const r = await verifyChain(ds);
    expect(r).toMatchObject({ ok: false, brokenAt: 3, kind: 'gap' });
    if (!r.ok) expect(r.message).toMatch(/events 3\.\.6 are missing/);
  });

  it('deleting the first event is detected', async () => {
    await tamper(db.url, ['DELETE FROM event_log WHERE seq = 1']);
    expect(await verifyChain(ds)).toMatchObject({ ok: false, brokenAt: 1, kind: 'gap' });
  });

  it('deleting and renumbering (seq is hashed) is detected', async () => {
    await tamper(db.url, ['DELETE FROM event_log WHERE seq = 5', 'UPDATE event_log SET seq = seq - 1 WHERE seq > 5']);
    const r = await verifyChain(ds);
    expect(r).toMatchObject({ ok: false, brokenAt: 5, kind: 'prev-hash-mismatch' });
  });

  it('deleting the last event is a head mismatch', async () => {
    await tamper(db.url, [`DELETE FROM event_log WHERE seq = ${N}`]);
    const r = await verifyChain(ds);
    expect(r).toMatchObject({ ok: false, brokenAt: N, kind: 'head-mismatch', expected: `seq ${N}`, found: `seq ${N - 1}` });
    const cli = await runCli(db.url);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, brokenAt: N, kind: 'head-mismatch' });
  });

  it('a row written past the head behind the appender is detected', async () => {
    const c = await superuser(db.url);
    try {
      await c.query(
        `INSERT INTO event_log (seq, event_id, type, version, stream, stream_seq, at, actor, correlation_id, payload, prev_hash, hash)
         SELECT seq + 1, gen_random_uuid(), type, version, stream, stream_seq + 1, at, actor, correlation_id, payload, hash, hash
           FROM event_log WHERE seq = ${N}`,
      );
    } finally {
      await c.end();
    }
    expect(await verifyChain(ds)).toMatchObject({ ok: false, brokenAt: N + 1, kind: 'head-mismatch' });
  });

  it('the CLI exits 2 when it cannot run', async () => {
    const cli = await runCli(withDatabase(db.url, `${db.name}_does_not_exist`));
    expect(cli.code).toBe(2);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false });
  });
});

describe('effectively-once helpers', () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase('progress');
    ds = createDataSource(db.url, { poolSize: 4 });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('consumer offsets upsert, only move forward, and commit with the state change', async () => {
    expect(await loadNextOffsets(ds, 'clearing', 'ch.matching-events')).toEqual(new Map());
    await ds.transaction(async (m) => {
      await saveNextOffset(m, 'clearing', 'ch.matching-events', 0, 10);
      await saveNextOffset(m, 'clearing', 'ch.matching-events', 3, '9007199254740993');
    });
    await ds.transaction((m) => saveNextOffset(m, 'clearing', 'ch.matching-events', 0, 10n)); // same: no-op
    await ds.transaction((m) => saveNextOffset(m, 'clearing', 'ch.matching-events', 0, 42));
    await saveNextOffset(ds, 'risk', 'ch.matching-events', 0, 1); // other consumer, independent

    // Going backwards throws and rolls back everything else in that transaction.
    await expect(
      ds.transaction(async (m) => {
        await appendEvents(m, [ev('clearing', 1)]);
        await saveNextOffset(m, 'clearing', 'ch.matching-events', 3, 5);
      }),
    ).rejects.toBeInstanceOf(ProgressRegressionError);
    await expect(ds.transaction((m) => saveNextOffset(m, 'clearing', 'ch.matching-events', 0, 41))).rejects.toThrow(
      /may not move backwards: saved 42, attempted 41/,
    );
    expect(await lastSeq(ds)).toBe(0);
    expect(await loadNextOffsets(ds, 'clearing', 'ch.matching-events')).toEqual(
      new Map([
        [0, '42'],
        [3, '9007199254740993'],
      ]),
    );
    await expect(saveNextOffset(ds, 'clearing', 'ch.matching-events', 0, 1.5)).rejects.toThrow(/not an integer/);
  });

  it('stream sequences dedupe re-published messages and only move forward', async () => {
    expect(await lastStreamSeq(ds, 'risk', 'matching:SIT-2027-03')).toBe(0);
    await ds.transaction((m) => saveStreamSeq(m, 'risk', 'matching:SIT-2027-03', 5));
    await ds.transaction((m) => saveStreamSeq(m, 'risk', 'matching:SIT-2027-03', 5));
    await ds.transaction((m) => saveStreamSeq(m, 'risk', 'clearing', 2));
    await expect(ds.transaction((m) => saveStreamSeq(m, 'risk', 'matching:SIT-2027-03', 4))).rejects.toBeInstanceOf(ProgressRegressionError);
    expect(await lastStreamSeq(ds, 'risk', 'matching:SIT-2027-03')).toBe(5);
    expect(await loadStreamSeqs(ds, 'risk')).toEqual(
      new Map([
        ['matching:SIT-2027-03', 5],
        ['clearing', 2],
      ]),
    );
  });

  it('outbox: enqueued with the transaction, fetched in order, marked published', async () => {
    await expect(
      ds.transaction(async (m) => {
        await enqueue(m, [{ topic: 'ch.risk-events', key: 'A1', value: 'lost' }]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await fetchUnpublished(ds)).toEqual([]);

    const ids = await ds.transaction(async (m) => {
      await appendEvents(m, [ev('risk:1', 1)]);
      return enqueue(m, [
        { topic: 'ch.risk-events', key: 'A1', value: JSON.stringify({ n: 1 }), headers: { 'x-correlation-id': 'c1' } },
        { topic: 'ch.risk-events', key: 'A2', value: Buffer.from([0, 1, 2, 255]) },
        { topic: 'ch.risk-events', key: 'A1', value: null },
        { topic: 'ch.clearing-events', key: null, value: 'k-less' },
      ]);
    });
    expect(ids).toHaveLength(4);
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));
    const pending = await fetchUnpublished(ds, 10);
    expect(pending.map((p) => p.id)).toEqual(ids);
    expect(pending[0]).toMatchObject({ topic: 'ch.risk-events', key: 'A1', headers: { 'x-correlation-id': 'c1' } });
    expect(pending[0].value?.toString('utf8')).toBe('{"n":1}');
    expect(pending[1].value).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(pending[1].headers).toEqual({});
    expect(pending[2].value).toBeNull();
    expect(pending[3].key).toBeNull();
    expect((await fetchUnpublished(ds, 2)).map((p) => p.id)).toEqual(ids.slice(0, 2));

    expect(await markPublished(ds, ids.slice(0, 3))).toBe(3);
    expect(await markPublished(ds, ids.slice(0, 3))).toBe(0);
    expect((await fetchUnpublished(ds)).map((p) => p.id)).toEqual([ids[3]]);
  });

  it('snapshots: latest per owner, and the latest at or before a position', async () => {
    expect(await loadLatestSnapshot(ds, 'matching:SIT-2027-03')).toBeNull();
    const book = { bids: [{ price: '2.05', qty: 10, orderId: 'o1' }], asks: [], seq: 100 };
    await ds.transaction((m) => saveSnapshot(m, 'matching:SIT-2027-03', 100, book));
    await saveSnapshot(ds, 'matching:SIT-2027-03', 250, { ...book, seq: 250 }, { version: 2 });
    await saveSnapshot(ds, 'matching:SCU-2027-03', 300, { other: true });

    const latest = await loadLatestSnapshot<typeof book>(ds, 'matching:SIT-2027-03');
    expect(latest).toMatchObject({ owner: 'matching:SIT-2027-03', position: 250, version: 2, state: { ...book, seq: 250 } });
    expect(latest?.takenAt).toBeInstanceOf(Date);
    expect(await loadLatestSnapshot(ds, 'matching:SIT-2027-03', { atOrBefore: 249 })).toMatchObject({ position: 100, version: 1, state: book });
    expect(await loadLatestSnapshot(ds, 'matching:SIT-2027-03', { atOrBefore: 99 })).toBeNull();
    await expect(saveSnapshot(ds, 'x', 1, { f: 0.5 })).rejects.toThrow(/not a safe integer/);
  });
});
