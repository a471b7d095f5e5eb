/**
 * npm run bench:eod — end of day for BENCH_ACCOUNTS accounts (default 10,000) across
 * BENCH_INSTRUMENTS instruments (default 10: SIT and SCU contracts) after a day of trading, through
 * the four services, which this bench starts itself on a database and topics of its own (dropped
 * at the end unless BENCH_KEEP=1). Target: POST /ops/eod → completed in ≤ 10 s.
 *
 * Seeding is through the API, as members would (no rows are written behind the services' backs):
 * operations admit BENCH_ACCOUNTS/100 members with 100 accounts each, list the instruments and
 * deposit for every account; then, per instrument, the accounts assigned to it trade in pairs at
 * 2.00 (listed at 1.98, so that the VWAP settlement moves and variation margin is posted); each
 * account ends the day with a position of 1–5 lots to settle. Once clearing and risk have caught up (every account has a
 * position and a margin row), the bench times POST /ops/eod for today's trade date until GET
 * /ops/eod/{date} reports completed, and prints the seconds and the progress figures.
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { listedContracts, SCU, SIT } from '@ch/domain';
import { brokersFromEnv, createMessageBus } from '@ch/kafka';
import { allTopics } from '@ch/messages';
import { databaseUrl, openDataSource, quoteIdent, sql, withDatabase } from '@ch/persistence';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const INSTRUMENTS = Number(process.env.BENCH_INSTRUMENTS ?? 10);
const PER_MEMBER = 100;
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 64);
const KEEP = process.env.BENCH_KEEP === '1';
const TARGET_S = 10;

const ROOT = join(__dirname, '..', '..');
const SERVICES = ['matching', 'clearing', 'risk', 'order-intake'] as const;
type Service = (typeof SERVICES)[number];
const PORT_ENV: Record<Service, string> = { matching: 'MATCHING_PORT', clearing: 'CLEARING_PORT', risk: 'RISK_PORT', 'order-intake': 'PORT' };

const log = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs: number, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Kafka: KAFKA_BROKERS, else scripts/kafka.sh start (reuses a broker already on the port). */
async function ensureKafka(): Promise<void> {
  if (process.env.KAFKA_BROKERS?.trim()) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'scripts', 'kafka.sh'), 'start'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`scripts/kafka.sh start failed:\n${out}`))));
  });
  process.env.KAFKA_BROKERS = `127.0.0.1:${process.env.KAFKA_PORT?.trim() || '9092'}`;
}

interface Launched {
  url: string;
  opsKey: string;
  dbUrl: string;
  stop(): Promise<void>;
}

/** A database and topics of its own, and the four services as processes (dist/ must be built). */
async function launch(): Promise<Launched> {
  const server = databaseUrl();
  const dbName = `bench_eod_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const dbUrl = withDatabase(server, dbName);
  const migrate = await openDataSource(dbUrl, { ensure: true, migrate: true, poolSize: 2, applicationName: 'bench-eod-migrate' });
  await migrate.destroy();

  await ensureKafka();
  const prefix = `b_eod_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const bus = createMessageBus({ brokers: brokersFromEnv(), clientId: `bench-eod-${prefix}`, logLevel: 'error' });
  const topics = allTopics(prefix).map((t) => ({ name: t.name, partitions: t.partitions }));
  const admin = await bus.admin();
  try {
    await admin.ensureTopics(topics);
  } finally {
    await admin.close();
  }

  const free = await freePorts(SERVICES.length);
  const ports = Object.fromEntries(SERVICES.map((s, i) => [s, free[i]])) as Record<Service, number>;
  const opsKey = `chk_ops_${randomBytes(12).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: dbUrl,
    TOPIC_PREFIX: prefix,
    OPS_API_KEY: opsKey,
    CH_LOG_LEVEL: process.env.CH_LOG_LEVEL ?? 'warn',
    KAFKA_LOG_LEVEL: 'error',
    CH_THROTTLE_LIMIT: '100000000',
    // A throwaway system: no anchors into the checkout's .run/anchors.jsonl (ADR 0013).
    CH_ANCHORS: 'off',
    ...Object.fromEntries(SERVICES.map((s) => [PORT_ENV[s], String(ports[s])])),
  };
  const procs: ChildProcess[] = [];
  for (const service of SERVICES) {
    const child = spawn(process.execPath, ['-r', join(ROOT, 'scripts', 'register-paths.js'), join(ROOT, 'dist', 'apps', service, 'src', 'main.js')], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    procs.push(child);
    await waitFor(
      `${service} /health`,
      async () => {
        if (child.exitCode !== null) throw Object.assign(new Error(`${service} exited ${child.exitCode}: ${err}`), { fatal: true });
        const r = await fetch(`http://127.0.0.1:${ports[service]}/health`);
        return r.status === 200 ? true : null;
      },
      90_000,
      100,
    );
  }
  return {
    url: `http://127.0.0.1:${ports['order-intake']}`,
    opsKey,
    dbUrl,
    async stop() {
      for (const p of [...procs].reverse()) if (p.exitCode === null) p.kill('SIGTERM');
      await sleep(1500);
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      if (KEEP) {
        log(`kept database ${dbName} and topics ${prefix}.*`);
        return;
      }
      const a = await bus.admin();
      await a.deleteTopics(topics.map((t) => t.name)).catch(() => undefined);
      await a.close().catch(() => undefined);
      const c = new Client({ connectionString: withDatabase(server, 'postgres') });
      await c.connect();
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]).catch(() => undefined);
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)}`).catch(() => undefined);
      await c.end();
    },
  };
}

function client(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  function request(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        base + path,
        { method, agent, headers: { 'x-api-key': key, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }
  return { request, close: () => agent.destroy() };
}

/** Runs the jobs with at most `n` in flight. */
async function pool<T>(items: T[], n: number, job: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await job(items[next++]);
    }),
  );
}

async function main(): Promise<void> {
  const today = new Date().toISOString().slice(0, 10);
  const symbols = [...listedContracts(SIT, today), ...listedContracts(SCU, today)].slice(0, INSTRUMENTS);
  if (symbols.length < INSTRUMENTS) throw new Error(`only ${symbols.length} contracts listed on ${today}`);
  log(`bench:eod — ${ACCOUNTS} accounts, ${symbols.length} instruments (${symbols.join(', ')}), trade date ${today}`);
  let t = performance.now();
  const sys = await launch();
  log(`system up in ${((performance.now() - t) / 1000).toFixed(1)} s (own database and topics)`);
  const api = client(sys.url);
  const ds = await openDataSource(sys.dbUrl, { poolSize: 2, applicationName: 'bench-eod' });
  const count = async (q: string, params: unknown[] = []) => Number((await sql<{ n: string }>(ds, q, params)).rows[0].n);
  try {
    // Seeding, through the API.
    t = performance.now();
    for (const s of symbols) {
      const r = await api.request('POST', '/ops/instruments', sys.opsKey, { symbol: s, referencePrice: '1.98' });
      if (r.status !== 201 || r.body.status !== 'listed') throw new Error(`list ${s}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const members = Array.from({ length: Math.ceil(ACCOUNTS / PER_MEMBER) }, (_, m) => `B${m}`);
    const keyOf = new Map<string, string>();
    const accounts: string[] = [];
    await pool(members, 8, async (member) => {
      const own = Array.from({ length: PER_MEMBER }, (_, i) => `${member}-${i}`).filter((_, i) => Number(member.slice(1)) * PER_MEMBER + i < ACCOUNTS);
      const r = await api.request('POST', '/ops/members', sys.opsKey, { memberId: member, accounts: own });
      if (r.status !== 201) throw new Error(`admit ${member}: ${r.status} ${JSON.stringify(r.body)}`);
      keyOf.set(member, r.body.apiKey);
    });
    for (const member of members) for (let i = 0; i < PER_MEMBER && accounts.length < ACCOUNTS; i++) accounts.push(`${member}-${i}`);
    await pool(accounts, SOCKETS, async (account) => {
      const r = await api.request('POST', '/ops/deposits', sys.opsKey, { account, amount: '100000.00' });
      if (r.status !== 202) throw new Error(`deposit ${account}: ${r.status} ${JSON.stringify(r.body)}`);
    });
    await waitFor('deposits posted', async () => ((await count('SELECT count(*) AS n FROM cash_balances')) >= accounts.length ? true : null), 300_000);
    log(
      `seeded ${members.length} members, ${accounts.length} accounts funded, ${symbols.length} instruments listed in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    // The day's trading: per instrument, its accounts in pairs (seller, buyer) at 2.00 (listed at 1.98).
    t = performance.now();
    const orders: { key: string; body: Record<string, unknown> }[] = [];
    accounts.forEach((account, i) => {
      const symbol = symbols[i % symbols.length];
      const pairIndex = Math.floor(i / symbols.length);
      const qty = 1 + (pairIndex % 5);
      const sell = pairIndex % 2 === 0;
      // The pair's partner is the next account of the same instrument; an odd one out trades with nobody.
      const partner = sell ? i + symbols.length : i - symbols.length;
      if (partner >= accounts.length) return;
      const q = sell ? qty : 1 + ((pairIndex - 1) % 5);
      orders.push({
        key: keyOf.get(account.split('-')[0])!,
        body: { account, clientOrderId: `eod-${i}`, instrument: symbol, side: sell ? 'sell' : 'buy', type: 'limit', price: '2.00', qty: q, tif: 'GTC' },
      });
    });
    await pool(orders, SOCKETS, async (o) => {
      const r = await api.request('POST', '/orders', o.key, o.body);
      if (r.status !== 202) throw new Error(`order ${String(o.body.clientOrderId)}: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const sent = performance.now();
    const holders = orders.length;
    await waitFor(
      'positions cleared',
      async () => ((await count('SELECT count(*) AS n FROM positions WHERE qty <> 0')) >= holders ? true : null),
      600_000,
      500,
    );
    await waitFor(
      'risk caught up',
      async () => ((await count(`SELECT count(*) AS n FROM margin WHERE initial_margin > 0`)) >= holders ? true : null),
      600_000,
      500,
    );
    const trades = await count('SELECT count(*) AS n FROM trades');
    log(
      `trading: ${orders.length} orders through POST /orders (${((sent - t) / 1000).toFixed(1)} s to send), ${trades} trades; ${holders} accounts with positions, cleared and margined after ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    // End of day, timed.
    const t0 = performance.now();
    const post = await api.request('POST', '/ops/eod', sys.opsKey, { tradeDate: today, overrides: {} });
    if (post.status !== 202) throw new Error(`POST /ops/eod: ${post.status} ${JSON.stringify(post.body)}`);
    let lastLine = '';
    const done = await waitFor(
      'end of day completed',
      async () => {
        const r = await api.request('GET', `/ops/eod/${today}`, sys.opsKey);
        const p = r.body;
        const line = `  [${((performance.now() - t0) / 1000).toFixed(1)} s] ${p.status}: instruments ${p.instrumentsSettled}/${p.instrumentsTotal}, accounts ${p.accountsDone}`;
        if (line.replace(/\[.*?\]/, '') !== lastLine) log(line);
        lastLine = line.replace(/\[.*?\]/, '');
        return p.status === 'completed' || p.status === 'completed_with_failures' ? p : null;
      },
      600_000,
      100,
    );
    const seconds = (performance.now() - t0) / 1000;
    const vm = await count('SELECT count(*) AS n FROM variation_margin WHERE trade_date = $1', [today]);
    log(
      `end of day ${today}: ${done.status}, ${done.instrumentsSettled}/${done.instrumentsTotal} instruments settled, ${done.accountsDone} accounts restated, ${vm} variation margin postings`,
    );
    log(`EOD_SECONDS ${seconds.toFixed(2)} (target ≤ ${TARGET_S} s: ${seconds <= TARGET_S ? 'met' : 'NOT met'})`);
  } finally {
    api.close();
    await ds.destroy();
    await sys.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
