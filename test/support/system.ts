/**
 * The whole system for one integration test file: its own database and topics, the four services
 * running as real processes from dist/ (built by the global setup), on free loopback ports.
 * A service can be SIGKILLed and restarted, as a real crash would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './postgres';
import { createTestTopics, uniqueTopicPrefix, type TestTopics } from './kafka';

export const SERVICES = ['matching', 'clearing', 'risk', 'order-intake'] as const;
export type ServiceName = (typeof SERVICES)[number];

const ROOT = join(__dirname, '..', '..');
const PORT_ENV: Record<ServiceName, string> = { matching: 'MATCHING_PORT', clearing: 'CLEARING_PORT', risk: 'RISK_PORT', 'order-intake': 'PORT' };

export interface HttpResult<T = any> {
  status: number;
  body: T;
}

export interface System {
  readonly url: string;
  readonly opsKey: string;
  readonly db: TestDatabase;
  readonly topics: TestTopics;
  readonly ports: Record<ServiceName, number>;
  /** The system's own directory for the anchor signing key (anchor-key.pem, .pub) and anchors.jsonl (ADR 0013). */
  readonly anchorDir: string;
  api<T = any>(method: string, path: string, opts?: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<HttpResult<T>>;
  kill(service: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  start(service: ServiceName): Promise<void>;
  /** The service's process is alive (started and not exited). */
  running(service: ServiceName): boolean;
  logs(service: ServiceName): string;
  stop(): Promise<void>;
}

/**
 * n distinct free ports. All are held open until every one is allocated: releasing each before
 * taking the next lets the OS hand out the same port twice, and then one service's /health would
 * answer for another's.
 */
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

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? String(last) : JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Environment of one service only, from the system's (e.g. intake's DATABASE_URL through a proxy the test closes). */
export type ServiceEnv = Partial<Record<ServiceName, (env: NodeJS.ProcessEnv) => Record<string, string>>>;

export async function startSystem(name: string, extraEnv: Record<string, string> = {}, serviceEnv: ServiceEnv = {}): Promise<System> {
  const db = await createTestDatabase(name);
  const prefix = uniqueTopicPrefix(name);
  const topics = await createTestTopics(prefix);
  const ports = {} as Record<ServiceName, number>;
  const free = await freePorts(SERVICES.length);
  SERVICES.forEach((s, i) => (ports[s] = free[i]));
  const opsKey = `chk_ops_${randomBytes(12).toString('hex')}`;
  // Each system signs and files its anchors in its own directory, never the checkout's .run/.
  const anchorDir = mkdtempSync(join(tmpdir(), `ch-anchors-${name.replace(/[^a-zA-Z0-9_-]/g, '_')}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    TOPIC_PREFIX: prefix,
    OPS_API_KEY: opsKey,
    CH_LOG_LEVEL: process.env.CH_LOG_LEVEL ?? 'warn',
    KAFKA_LOG_LEVEL: 'error',
    CH_ANCHOR_KEY_FILE: join(anchorDir, 'anchor-key.pem'),
    CH_ANCHOR_FILE: join(anchorDir, 'anchors.jsonl'),
    ...Object.fromEntries(SERVICES.map((s) => [PORT_ENV[s], String(ports[s])])),
    ...extraEnv,
  };
  const procs = new Map<ServiceName, ChildProcess>();
  const output = new Map<ServiceName, string[]>();
  const url = `http://127.0.0.1:${ports['order-intake']}`;

  async function healthy(service: ServiceName): Promise<boolean> {
    try {
      const r = await fetch(`http://127.0.0.1:${ports[service]}/health`);
      return r.status === 200;
    } catch {
      return false;
    }
  }

  async function start(service: ServiceName): Promise<void> {
    const child = spawn(process.execPath, ['-r', join(ROOT, 'scripts', 'register-paths.js'), join(ROOT, 'dist', 'apps', service, 'src', 'main.js')], {
      env: { ...env, ...(serviceEnv[service]?.(env) ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = output.get(service) ?? [];
    output.set(service, lines);
    const keep = (b: Buffer) => {
      lines.push(b.toString());
      if (lines.length > 400) lines.splice(0, lines.length - 400);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    procs.set(service, child);
    await waitFor(
      `${service} to answer /health`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}:\n${lines.join('').slice(-3000)}`);
        return healthy(service);
      },
      90_000,
      100,
    );
  }

  async function kill(service: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = procs.get(service);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    procs.delete(service);
  }

  // Matching and clearing first, so that the consumers exist before intake takes orders.
  for (const s of SERVICES) await start(s);

  return {
    url,
    opsKey,
    db,
    topics,
    ports,
    anchorDir,
    async api(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.key) headers['x-api-key'] = opts.key;
      let body: string | undefined;
      if (opts.raw !== undefined) body = opts.raw;
      else if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(url + path, { method, headers, body });
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: r.status, body: parsed as never };
    },
    kill,
    start,
    running: (s) => {
      const child = procs.get(s);
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    logs: (s) => (output.get(s) ?? []).join(''),
    async stop() {
      for (const s of [...SERVICES].reverse()) await kill(s, 'SIGTERM').catch(() => undefined);
      for (const s of SERVICES) await kill(s, 'SIGKILL').catch(() => undefined);
      await topics.delete().catch(() => undefined);
      await db.drop().catch(() => undefined);
      rmSync(anchorDir, { recursive: true, force: true });
    },
  };
}

/** Operations admit a member with its accounts; returns the member's API key. */
export async function admitMember(sys: System, memberId: string, accounts: string[]): Promise<string> {
  const r = await sys.api('POST', '/ops/members', { key: sys.opsKey, body: { memberId, accounts } });
  if (r.status !== 201) throw new Error(`admit ${memberId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.apiKey;
}

export async function deposit(sys: System, account: string, amount: string): Promise<void> {
  const r = await sys.api('POST', '/ops/deposits?wait=true', { key: sys.opsKey, body: { account, amount } });
  if (r.status !== 202 || r.body.status !== 'posted') throw new Error(`deposit ${account}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function listInstrument(sys: System, symbol: string, referencePrice: string): Promise<void> {
  const r = await sys.api('POST', '/ops/instruments', { key: sys.opsKey, body: { symbol, referencePrice } });
  if (r.status !== 201 || r.body.status !== 'listed') throw new Error(`list ${symbol}: ${r.status} ${JSON.stringify(r.body)}`);
}
