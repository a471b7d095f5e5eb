/**
 * Anchors of the hash chain outside the database (issue 11 item 9, ADR 0013). The running system
 * (clearing's anchorer) signs checkpoints of the log's head into the anchors file and onto the
 * anchors topic while members trade. Then a superuser rewrites an event directly in Postgres and
 * recomputes every later hash and the head with the project's own hash function: the chain alone
 * verifies (that is the hole), `audit verify --anchors` names the first anchor that no longer
 * matches; and an anchor forged to fit the rewrite (bad signature, or another key) is refused.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { createMessageBus, type Consumer } from '../libs/kafka/src';
import { topicName } from '../libs/messages/src';
import { computeEventHash, openDataSource, readEvents, sql } from '../libs/persistence/src';
import { anchorLine, loadOrCreateSigningKey, parseAnchor, signAnchor, type Anchor } from '../libs/runtime/src/anchors';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const ROOT = join(__dirname, '..');
const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];

function audit(args: string[], databaseUrl: string, env: Record<string, string> = {}): Promise<{ code: number; out: any; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', join(ROOT, 'scripts', 'register-paths.js'), join(ROOT, 'dist', 'scripts', 'audit.js'), ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl, ...env }, cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) => {
        let out: unknown = stdout;
        try {
          out = JSON.parse(stdout);
        } catch {
          /* not JSON */
        }
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out, stdout, stderr });
      },
    );
  });
}

describe('chain anchors outside the database', () => {
  let sys: System;
  let ds: DataSource;
  let anchorsFile: string;
  let publicKeyFile: string;
  let consumer: Consumer | undefined;
  const published: string[] = [];

  const head = async (): Promise<number> => Number((await sql<{ s: string }>(ds, 'SELECT last_seq AS s FROM event_log_head')).rows[0].s);
  const anchors = (): Anchor[] =>
    readFileSync(anchorsFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(parseAnchor);
  /** The file's complete lines after the line `torn`. */
  const anchorLinesAfter = (torn: string): string[] => {
    const lines = readFileSync(anchorsFile, 'utf8').split('\n');
    return lines.slice(lines.indexOf(torn) + 1, -1).filter((l) => l !== '');
  };
  /** The log is quiet and the anchorer has anchored its head. */
  const anchoredHead = async (): Promise<number> => {
    let last = -1;
    return waitFor(
      'the head anchored',
      async () => {
        const now = await head();
        const stable = now === last;
        last = now;
        return stable && anchors().at(-1)?.seq === now ? now : false;
      },
      30_000,
      700,
    );
  };

  beforeAll(async () => {
    // Anchor every 3 events or 300 ms, so that each step below gets its own anchor.
    sys = await startSystem('anchors', { CH_ANCHOR_EVERY_EVENTS: '3', CH_ANCHOR_INTERVAL_MS: '300' });
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
    anchorsFile = join(sys.anchorDir, 'anchors.jsonl');
    publicKeyFile = join(sys.anchorDir, 'anchor-key.pem.pub');
    const bus = createMessageBus({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), clientId: 'anchors-test', logLevel: 'error' });
    consumer = await bus.consumer({ groupId: `${sys.topics.prefix}.anchors-test`, fromBeginning: true });
    await consumer.subscribe([topicName('anchors', sys.topics.prefix)]);
    await consumer.run({ eachBatch: async (b) => void published.push(...b.messages.map((m) => m.value.toString('utf8'))) });

    const k1 = await admitMember(sys, 'M1', ['M1-H']);
    const k2 = await admitMember(sys, 'M2', ['M2-H']);
    await listInstrument(sys, SYMBOL, '2.00');
    await anchoredHead();
    await deposit(sys, 'M1-H', '1000.00');
    await deposit(sys, 'M2-H', '1000.00');
    await anchoredHead();
    const order = (key: string, account: string, clientOrderId: string, side: 'buy' | 'sell', qty: number) =>
      sys.api('POST', '/orders?wait=true', { key, body: { account, clientOrderId, instrument: SYMBOL, side, type: 'limit', price: '2.00', qty, tif: 'GTC' } });
    expect(await order(k1, 'M1-H', 's1', 'sell', 10)).toMatchObject({ status: 202 });
    expect(await order(k2, 'M2-H', 'b1', 'buy', 4)).toMatchObject({ status: 202 });
    await anchoredHead();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await ds?.destroy();
    await sys?.stop();
  });

  it('the running system signs anchors into the file and onto the topic, with a key file only its owner reads', async () => {
    const written = anchors();
    expect(written.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < written.length; i++) expect(written[i].seq).toBeGreaterThan(written[i - 1].seq);
    // Every anchor names the log's real hash at its seq.
    for (const a of written) {
      const r = await sql<{ hash: string }>(ds, 'SELECT hash FROM event_log WHERE seq = $1', [a.seq]);
      expect(r.rows[0].hash).toBe(a.hash);
    }
    await waitFor('every anchor on the topic', async () => published.length >= written.length, 30_000);
    const fileLines = readFileSync(anchorsFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(published.slice(0, written.length)).toEqual(fileLines);
    // An auditor's copy of the topic.
    const dumped = await audit(['anchors'], sys.db.url, { TOPIC_PREFIX: sys.topics.prefix });
    expect(dumped.code).toBe(0);
    expect(dumped.stdout.split('\n').filter((l) => l !== '')).toEqual(fileLines);
    expect(statSync(join(sys.anchorDir, 'anchor-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(publicKeyFile, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // Not in the database: no table holds the private key.
    const pem = readFileSync(join(sys.anchorDir, 'anchor-key.pem'), 'utf8').split('\n')[1];
    const found = await sql<{ n: string }>(ds, `SELECT count(*) AS n FROM event_log WHERE payload::text LIKE $1`, [`%${pem.slice(0, 24)}%`]);
    expect(Number(found.rows[0].n)).toBe(0);

    const v = await audit(['verify', '--anchors', anchorsFile, '--public-key', publicKeyFile], sys.db.url);
    expect(v.code).toBe(0);
    expect(v.out).toMatchObject({ ok: true, chain: { ok: true }, anchors: { ok: true, anchors: written.length, lastAnchoredSeq: written.at(-1)!.seq } });
    // The API checks the topic's copy.
    const api = await sys.api('GET', '/audit/verify?anchors=topic', { key: sys.opsKey });
    expect(api).toMatchObject({ status: 200, body: { ok: true, chain: { ok: true }, anchors: { ok: true, anchors: written.length } } });
    expect(await sys.api('GET', '/audit/verify?anchors=file', { key: sys.opsKey })).toMatchObject({
      status: 400,
      body: { error: 'INVALID_REQUEST', field: 'anchors' },
    });
  });

  it('refuses a signing key that others may read', () => {
    const loose = join(sys.anchorDir, 'loose-key.pem');
    copyFileSync(join(sys.anchorDir, 'anchor-key.pem'), loose);
    chmodSync(loose, 0o644);
    expect(() => loadOrCreateSigningKey(loose, `${loose}.pub`)).toThrow(/may be read by others \(mode 644\): chmod 600 it/);
    chmodSync(loose, 0o600);
    expect(loadOrCreateSigningKey(loose, `${loose}.pub`).created).toBe(false);
  });

  describe('after a superuser rewrites an event and recomputes every later hash', () => {
    let anchored: Anchor[];
    let rewrittenSeq: number;
    /** Index of the first anchor at or after the rewritten event: the first that must fail. */
    let broken: number;

    beforeAll(async () => {
      anchored = anchors();
      // The first deposit after the first anchor: its amount becomes 100 times larger.
      const target = (
        await sql<{ seq: string }>(ds, `SELECT seq FROM event_log WHERE seq > $1 AND payload::text LIKE '%"amount"%' ORDER BY seq LIMIT 1`, [anchored[0].seq])
      ).rows[0];
      rewrittenSeq = Number(target.seq);
      broken = anchored.findIndex((a) => a.seq >= rewrittenSeq);
      expect(broken).toBeGreaterThanOrEqual(1);
      const last = await head();
      await ds.transaction(async (m) => {
        // A superuser switches the append-only and forward-only triggers off...
        await sql(m, `SET LOCAL session_replication_role = replica`);
        let prevHash = (await sql<{ hash: string }>(m, 'SELECT hash FROM event_log WHERE seq = $1', [rewrittenSeq - 1])).rows[0].hash;
        for await (const e of readEvents<Record<string, unknown>>(m, { fromSeq: rewrittenSeq, toSeq: last })) {
          const payload = e.seq === rewrittenSeq ? { ...e.payload, amount: '100000.00' } : e.payload;
          // ...and re-chains with the project's own function.
          const hash = computeEventHash({ ...e, payload, prevHash });
          await sql(m, 'UPDATE event_log SET payload = $2::json, prev_hash = $3, hash = $4 WHERE seq = $1', [e.seq, JSON.stringify(payload), prevHash, hash]);
          prevHash = hash;
        }
        await sql(m, 'UPDATE event_log_head SET last_hash = $1 WHERE id = 1', [prevHash]);
      });
    });

    it('the chain alone still verifies: the rewrite is invisible to it', async () => {
      expect((await sql<{ payload: { amount: string } }>(ds, 'SELECT payload FROM event_log WHERE seq = $1', [rewrittenSeq])).rows[0].payload.amount).toBe(
        '100000.00',
      );
      expect((await sys.api('GET', '/audit/verify', { key: sys.opsKey })).body).toMatchObject({ ok: true, lastSeq: await head() });
      const plain = await audit(['verify'], sys.db.url);
      expect(plain).toMatchObject({ code: 0, out: { ok: true } });
    });

    it('verify --anchors names the first anchor that no longer matches', async () => {
      const v = await audit(['verify', '--anchors', anchorsFile, '--public-key', publicKeyFile], sys.db.url);
      expect(v.code).toBe(1);
      expect(v.out).toMatchObject({
        ok: false,
        chain: { ok: true },
        anchors: {
          ok: false,
          kind: 'hash-mismatch',
          line: broken + 1,
          seq: anchored[broken].seq,
          anchoredAt: anchored[broken].at,
          expected: anchored[broken].hash,
          checked: broken,
        },
      });
      expect(v.out.anchors.message).toContain(`the log no longer matches the anchor at line ${broken + 1} (seq ${anchored[broken].seq}`);
      const api = await sys.api('GET', '/audit/verify?anchors=topic', { key: sys.opsKey });
      expect(api).toMatchObject({
        status: 200,
        body: { ok: false, chain: { ok: true }, anchors: { ok: false, kind: 'hash-mismatch', line: broken + 1, seq: anchored[broken].seq } },
      });
    });

    it('refuses anchors forged to fit the rewritten log', async () => {
      const hashAt = async (seq: number) => (await sql<{ hash: string }>(ds, 'SELECT hash FROM event_log WHERE seq = $1', [seq])).rows[0].hash;
      // The rewriter edits the file's hashes to the new chain, keeping the signatures...
      const edited = await Promise.all(anchored.map(async (a) => anchorLine({ ...a, hash: await hashAt(a.seq) })));
      const editedFile = join(sys.anchorDir, 'edited.jsonl');
      writeFileSync(editedFile, edited.join('\n') + '\n');
      const e = await audit(['verify', '--anchors', editedFile, '--public-key', publicKeyFile], sys.db.url);
      expect(e.code).toBe(1);
      expect(e.out.anchors).toMatchObject({ ok: false, kind: 'bad-signature', line: broken + 1, seq: anchored[broken].seq });
      // ...or re-signs them all with a key of their own.
      const own = generateKeyPairSync('ed25519');
      const resigned = await Promise.all(
        anchored.map(async (a) => anchorLine(signAnchor(own.privateKey, { seq: a.seq, hash: await hashAt(a.seq), at: a.at }))),
      );
      const resignedFile = join(sys.anchorDir, 'resigned.jsonl');
      writeFileSync(resignedFile, resigned.join('\n') + '\n');
      const r = await audit(['verify', '--anchors', resignedFile, '--public-key', publicKeyFile], sys.db.url);
      expect(r.code).toBe(1);
      expect(r.out.anchors).toMatchObject({ ok: false, kind: 'bad-signature', line: 1, seq: anchored[0].seq });
      // A missing anchors file or public key: could not run.
      expect((await audit(['verify', '--anchors', join(sys.anchorDir, 'none.jsonl'), '--public-key', publicKeyFile], sys.db.url)).code).toBe(2);
    });

    it('the anchorer, restarted after a crash mid-append, says the log no longer holds its last anchor', async () => {
      await sys.kill('clearing');
      const torn = anchorLine(anchored[0]).slice(0, 40);
      appendFileSync(anchorsFile, torn);
      await sys.start('clearing');
      await waitFor('the anchorer to report the rewrite', async () => /no longer holds the last anchor/.test(sys.logs('clearing')), 30_000);
      expect(sys.logs('clearing')).toMatch(/ended with a torn line/);
      // It anchors the log as it now is, on a line of its own after the torn one.
      await waitFor('a new anchor', async () => anchorLinesAfter(torn).length > 0, 30_000);
      const [next] = anchorLinesAfter(torn);
      expect(parseAnchor(next)).toMatchObject({ seq: await head() });
      // The torn line is refused until the operator removes it...
      const withTorn = await audit(['verify', '--anchors', anchorsFile, '--public-key', publicKeyFile], sys.db.url);
      expect(withTorn.out.anchors).toMatchObject({ ok: false, kind: 'malformed', line: anchored.length + 1 });
      writeFileSync(anchorsFile, readFileSync(anchorsFile, 'utf8').replace(`${torn}\n`, ''));
      // ...and the old anchors stay in the file, and still convict the rewrite.
      const v = await audit(['verify', '--anchors', anchorsFile, '--public-key', publicKeyFile], sys.db.url);
      expect(v.out.anchors).toMatchObject({ ok: false, kind: 'hash-mismatch', seq: anchored[broken].seq });
    });
  });
});
