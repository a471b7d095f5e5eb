/**
 * `npm run crash-campaign`: the crash campaign of issue 11 (docs/operations.md, "The crash
 * campaign"). Under a steady load of crossing orders it SIGKILLs, one after the other, matching,
 * clearing, risk and order-intake, then the Kafka broker, then Postgres, and cuts an end of day
 * with clearing killed at its settlement; then, quiet, it checks that nothing was lost or doubled
 * (every order intake answered 202 has exactly one outcome in the log, every trade is cleared once,
 * positions sum to zero per instrument), that the hash chain verifies and that `/audit/compare` is
 * clean. Prints a JSON summary; exits 0 when every check holds, 1 otherwise.
 *
 * Everything it kills is its own: a throwaway Postgres cluster (initdb + pg_ctl in a temporary
 * directory, on a free port; as root it runs them as the `postgres` user) and a throwaway Kafka
 * broker (KRaft, the jars of scripts/kafka.sh, its own temporary data directory and free ports).
 * The services run from dist/ (the npm script builds first) as in the integration tests
 * (test/support/system.ts), with their own database and topics on those; a small supervisor loop
 * restarts a service whose process has exited, as scripts/supervise.js does in production. The
 * shared broker (9092) and Postgres (5432) are never touched.
 *
 * Environment: CRASH_KEEP=1 keeps the temporary directories (logs) for inspection.
 * Runs with ts-node (transpile only): it reuses the test support code, which is not built.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { join } from 'node:path';
import { listedContracts, SIT } from '../libs/domain/src';
import { checkOutcomes, startOrderLoad, type LoadAccount, type OutcomeCheck } from '../test/support/crash-load';
import { admitMember, deposit, listInstrument, SERVICES, startSystem, waitFor, type System } from '../test/support/system';

const ROOT = join(__dirname, '..');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const KAFKA_VERSION = process.env.KAFKA_VERSION ?? '3.9.2';
const log = (msg: string) => process.stderr.write(`[crash-campaign ${new Date().toISOString()}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ---- a throwaway Postgres cluster -----------------------------------------------------------------

class ThrowawayPostgres {
  readonly url: string;
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly owner: { uid: number; gid: number } | null,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  static async create(): Promise<ThrowawayPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'ch-crash-pg-'));
    // initdb refuses to run as root: run the cluster as the postgres user then.
    let owner: { uid: number; gid: number } | null = null;
    if (process.getuid?.() === 0) {
      owner = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
      chownSync(dir, owner.uid, owner.gid);
    }
    const pg = new ThrowawayPostgres(dir, await freePort(), owner);
    pg.run('initdb', ['-D', pg.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    writeFileSync(
      join(pg.data, 'postgresql.auto.conf'),
      `listen_addresses = '127.0.0.1'\nport = ${pg.port}\nunix_socket_directories = '${dir}'\nmax_connections = 200\nfsync = off\n`,
    );
    if (owner) chownSync(join(pg.data, 'postgresql.auto.conf'), owner.uid, owner.gid);
    pg.start();
    return pg;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  private run(tool: string, args: string[]): string {
    const r = spawnSync(join(PG_BIN, tool), args, { ...(this.owner ?? {}), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
    return r.stdout;
  }

  start(): void {
    // After a SIGKILL the old backends may hold the shared memory for a moment: try a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'postgres.log'), '-w', '-t', '60', 'start']);
        return;
      } catch (e) {
        if (attempt >= 10) throw e;
        spawnSync('sleep', ['1']);
      }
    }
  }

  /** SIGKILL of the postmaster (its backends exit when they see it gone). */
  kill(): number {
    const pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  stop(): void {
    try {
      this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* already down */
    }
  }
}

// ---- a throwaway Kafka broker ---------------------------------------------------------------------

class ThrowawayKafka {
  private proc: ChildProcess | null = null;
  readonly brokers: string;
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly controllerPort: number,
  ) {
    this.brokers = `127.0.0.1:${port}`;
  }

  private static libs(): string {
    const libs = join(ROOT, '.cache', 'kafka', KAFKA_VERSION, 'libs');
    // Only fetches the jars (as the integration tests' setup does); starts and stops nothing.
    if (!existsSync(join(libs, '.complete')))
      execFileSync('bash', [join(ROOT, 'scripts', 'kafka.sh'), 'fetch'], { stdio: 'inherit', env: { ...process.env, KAFKA_VERSION } });
    return libs;
  }

  static async create(): Promise<ThrowawayKafka> {
    const dir = mkdtempSync(join(tmpdir(), 'ch-crash-kafka-'));
    const k = new ThrowawayKafka(dir, await freePort(), await freePort());
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${k.controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${k.port},CONTROLLER://127.0.0.1:${k.controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${k.port}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'auto.create.topics.enable=false',
      'delete.topic.enable=true',
      'num.partitions=1',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
    ];
    writeFileSync(join(dir, 'server.properties'), props.join('\n') + '\n');
    writeFileSync(
      join(dir, 'log4j.properties'),
      'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n',
    );
    // A KRaft cluster id is 16 random bytes, base64url without padding.
    const clusterId = randomBytes(16).toString('base64url');
    execFileSync(
      'java',
      [
        '-Xmx256m',
        `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
        '-cp',
        `${ThrowawayKafka.libs()}/*`,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        join(dir, 'server.properties'),
      ],
      { stdio: 'pipe' },
    );
    await k.start();
    await k.warmCoordinator();
    return k;
  }

  /**
   * On a fresh broker the group coordinator (its __consumer_offsets topic) comes up only when a
   * group is first asked for, and the services' consumers exit once if they ask first (issue 11,
   * item 10, not this campaign's subject): ask for one until its coordinator answers.
   */
  private async warmCoordinator(): Promise<void> {
    const admin = new Kafka({ clientId: 'crash-campaign-warmup', brokers: [this.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await waitFor('the group coordinator', async () => (await admin.describeGroups(['crash-campaign-warmup'])).groups.length === 1, 120_000, 500);
    } finally {
      await admin.disconnect();
    }
  }

  async start(): Promise<void> {
    const out = join(this.dir, 'kafka.log');
    const fd = openSync(out, 'a');
    this.proc = spawn(
      'java',
      [
        '-Xmx384m',
        '-Xms384m',
        '-XX:+UseG1GC',
        `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
        `-Dkafka.logs.dir=${this.dir}`,
        '-cp',
        `${ThrowawayKafka.libs()}/*`,
        'kafka.Kafka',
        join(this.dir, 'server.properties'),
      ],
      { stdio: ['ignore', fd, fd] },
    );
    const proc = this.proc;
    await waitFor(
      `the throwaway broker on ${this.brokers}`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`the broker exited with ${proc.exitCode}: ${readFileSync(out, 'utf8').slice(-2000)}`);
        return spawnSync(process.execPath, [join(ROOT, 'scripts', 'kafka-probe.js'), this.brokers], { timeout: 5000 }).status === 0;
      },
      120_000,
      500,
    );
  }

  /** SIGKILL of the broker's JVM (this process's child: its pid, nothing else). */
  async kill(): Promise<number> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return 0;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
    this.proc = null;
    return proc.pid ?? 0;
  }
}

// ---- the campaign ---------------------------------------------------------------------------------

interface Step {
  readonly kill: string;
  readonly tradesBefore: number;
  readonly downMs: number;
}

async function main(): Promise<number> {
  const keep = process.env.CRASH_KEEP === '1';
  log('starting a throwaway Postgres cluster and a throwaway Kafka broker');
  const pg = await ThrowawayPostgres.create();
  let kafka: ThrowawayKafka | null = null;
  let sys: System | null = null;
  let supervising = true;
  let supervisor: Promise<void> = Promise.resolve();
  try {
    kafka = await ThrowawayKafka.create();
    log(`Postgres on ${pg.port} (${pg.dir}), Kafka on ${kafka.port} (${kafka.dir})`);
    // The test support reads these: the system's database and topics go to the throwaway servers.
    process.env.DATABASE_URL = pg.url;
    process.env.KAFKA_BROKERS = kafka.brokers;
    sys = await startSystem('crash-campaign');
    const system = sys;

    // The supervisor: a service whose process has exited is started again (with a pause).
    const restarts: Record<string, number> = {};
    supervisor = (async () => {
      while (supervising) {
        for (const s of SERVICES) {
          if (!supervising || system.running(s)) continue;
          restarts[s] = (restarts[s] ?? 0) + 1;
          await system.start(s).catch((e) => log(`restart of ${s} failed, will retry: ${String(e).slice(0, 300)}`));
        }
        await sleep(500);
      }
    })();

    const today = new Date().toISOString().slice(0, 10);
    const [sym, sym2] = listedContracts(SIT, today).slice(2, 4);
    const accounts: LoadAccount[] = [];
    for (let i = 1; i <= 6; i++) accounts.push({ account: `C${i}-H`, key: await admitMember(system, `C${i}`, [`C${i}-H`]) });
    await listInstrument(system, sym, '2.00');
    await listInstrument(system, sym2, '2.00');
    for (const a of accounts) await deposit(system, a.account, '100000.00');
    // -1 while Postgres is down.
    const tradeCount = () => countLogged(system.db.url, 'Trade').catch(() => -1);

    const load = startOrderLoad(system, { accounts, instruments: [sym, sym2], pricesTicks: [196, 203, 199, 205, 194, 201], prefix: 'c' });
    const steps: Step[] = [];
    const moreTrades = async (n: number) => {
      const from = Math.max(0, await tradeCount());
      await waitFor(`${n} more trades`, async () => (await tradeCount()) >= from + n, 180_000, 250);
      return from + n;
    };

    for (const s of SERVICES) {
      const tradesBefore = await moreTrades(40);
      log(`kill -9 ${s}`);
      const t0 = Date.now();
      await system.kill(s, 'SIGKILL');
      await waitFor(
        `${s} back`,
        async () =>
          system.running(s) &&
          (await fetch(`http://127.0.0.1:${system.ports[s]}/health`)
            .then((r) => r.ok)
            .catch(() => false)),
        120_000,
        250,
      );
      steps.push({ kill: s, tradesBefore, downMs: Date.now() - t0 });
    }

    {
      const tradesBefore = await moreTrades(40);
      log('kill -9 the Kafka broker (down for 5 s)');
      const t0 = Date.now();
      await kafka.kill();
      await sleep(5000);
      await kafka.start();
      steps.push({ kill: 'kafka', tradesBefore, downMs: Date.now() - t0 });
    }

    {
      const tradesBefore = await moreTrades(40);
      log('kill -9 the Postgres postmaster (down for 3 s)');
      const t0 = Date.now();
      pg.kill();
      await sleep(3000);
      pg.start();
      steps.push({ kill: 'postgres', tradesBefore, downMs: Date.now() - t0 });
    }

    {
      // An end of day under load, clearing killed at the settlement (issue 11, item 3).
      const tradesBefore = await moreTrades(40);
      log(`end of day ${today}, kill -9 clearing at its settlement`);
      const t0 = Date.now();
      await load.pause();
      const r = await system.api('POST', '/ops/eod', { key: system.opsKey, body: { tradeDate: today } });
      if (r.status !== 202) throw new Error(`POST /ops/eod: ${r.status} ${JSON.stringify(r.body)}`);
      load.resume();
      await waitFor('a settlement logged', async () => (await countLogged(system.db.url, 'SettlementPriceSet', today)) > 0, 60_000, 20);
      await system.kill('clearing', 'SIGKILL');
      await waitFor(
        `end of day ${today} completed`,
        async () => (await system.api('GET', `/ops/eod/${today}`, { key: system.opsKey })).body.status === 'completed',
        180_000,
        500,
      );
      steps.push({ kill: 'clearing at end of day', tradesBefore, downMs: Date.now() - t0 });
    }

    await moreTrades(40);
    log('stopping the load; waiting for quiet');
    await load.stop();
    supervising = false;
    await supervisor;
    for (const s of SERVICES) if (!system.running(s)) await system.start(s);

    const accepted = [...load.accepted];
    let outcomes: OutcomeCheck = await checkOutcomes(system.db.url, accepted);
    try {
      outcomes = await waitFor(
        'every accepted order to have an outcome, every trade cleared',
        async () => {
          const c = await checkOutcomes(system.db.url, accepted);
          return c.withoutOutcome.length === 0 && c.tradesNotClearedOnce === 0 ? c : null;
        },
        180_000,
        1000,
      );
    } catch {
      outcomes = await checkOutcomes(system.db.url, accepted);
    }
    let compare: { ok?: boolean; differenceCount?: number; divergenceCount?: number; differences?: unknown[]; divergences?: unknown[]; headSeq?: number } = {};
    try {
      compare = await waitFor(
        '/audit/compare clean',
        async () => {
          const c = await system.api('GET', '/audit/compare', { key: system.opsKey });
          compare = c.body;
          return c.status === 200 && c.body.ok === true ? c.body : null;
        },
        60_000,
        2000,
      );
    } catch {
      /* reported below */
    }
    const verify = (await system.api('GET', '/audit/verify', { key: system.opsKey })).body as { ok?: boolean };
    const positionsFlat = Object.values(outcomes.positionSums).every((x) => x === 0);
    const ok =
      outcomes.withoutOutcome.length === 0 &&
      outcomes.doubled.length === 0 &&
      outcomes.tradesNotClearedOnce === 0 &&
      positionsFlat &&
      compare.ok === true &&
      verify.ok === true;
    const summary = {
      ok,
      steps,
      restarts,
      orders: { accepted: accepted.length, refused: load.refused.size, retried: load.retries, withOutcome: outcomes.outcomes },
      lostOrDoubled: {
        withoutOutcome: outcomes.withoutOutcome.slice(0, 20),
        doubled: outcomes.doubled.slice(0, 20),
        tradesNotClearedOnce: outcomes.tradesNotClearedOnce,
      },
      trades: outcomes.trades,
      positionSums: outcomes.positionSums,
      chain: verify,
      compare: {
        ok: compare.ok,
        headSeq: compare.headSeq,
        differenceCount: compare.differenceCount,
        divergenceCount: compare.divergenceCount,
        differences: compare.differences?.slice(0, 10),
        divergences: compare.divergences?.slice(0, 10),
      },
    };
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    if (!ok) for (const s of SERVICES) process.stderr.write(`--- ${s}\n${system.logs(s).slice(-2000)}\n`);
    return ok ? 0 : 1;
  } finally {
    supervising = false;
    await supervisor.catch(() => undefined);
    if (sys) for (const s of SERVICES) await sys.kill(s, 'SIGKILL').catch(() => undefined);
    await kafka?.kill().catch(() => undefined);
    pg.stop();
    if (!keep) {
      rmSync(pg.dir, { recursive: true, force: true });
      if (kafka) rmSync(kafka.dir, { recursive: true, force: true });
    } else log(`kept ${pg.dir} and ${kafka?.dir}`);
  }
}

/** Events of `type` in the log (for `tradeDate`, when given). */
async function countLogged(url: string, type: string, tradeDate?: string): Promise<number> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await c.connect();
  try {
    const r =
      tradeDate === undefined
        ? await c.query<{ n: string }>('SELECT count(*) AS n FROM event_log WHERE type = $1', [type])
        : await c.query<{ n: string }>(`SELECT count(*) AS n FROM event_log WHERE type = $1 AND payload->>'tradeDate' = $2`, [type, tradeDate]);
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
