/**
 * The auditor's command line (SPEC §9), against DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/clearinghouse); reads only.
 *
 *   audit verify [--from <seq>]           the hash chain; names the first broken link
 *   audit verify --file <export.jsonl>    an export, away from the database
 *   audit verify --anchors <anchors.jsonl> [--public-key <pem>]
 *                                         the chain, and the log against signed anchors kept
 *                                         outside the database (ADR 0013); the public key
 *                                         defaults to CH_ANCHOR_PUBLIC_KEY_FILE, else
 *                                         <CH_ANCHOR_KEY_FILE or .run/anchor-key.pem>.pub
 *   audit state [--seq <n> | --at <ISO>]  the replayed state as of a seq or an event time
 *   audit compare                         replay vs the live projections: every difference
 *   audit export [--from <n>] [--to <n>]  the log as JSON Lines on stdout (> file)
 *   audit anchors                         every anchor on the anchors topic (KAFKA_BROKERS,
 *                                         TOPIC_PREFIX) as JSON Lines on stdout (> anchors.jsonl)
 *
 * JSON on stdout. Exit 0: intact / no difference; 1: broken chain, differences or divergences;
 * 2: could not run (bad arguments, database unreachable).
 */
import type { KeyObject } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createMessageBus, kafkaConfigFromEnv } from '@ch/kafka';
import { consumerGroup, topicName } from '@ch/messages';
import { createDataSource, databaseUrl, redactUrl } from '@ch/persistence';
import {
  compareWithProjections,
  exportLogLines,
  parsePublicKey,
  parseStopTime,
  readAnchorsFromTopic,
  replayLog,
  verifyExportLines,
  verifyLog,
  verifyLogWithAnchors,
} from '@ch/audit';
import { anchorConfigFromEnv } from '@ch/runtime/anchors';

const USAGE =
  'usage: audit verify [--from <seq>] | verify --file <export.jsonl> | verify --anchors <anchors.jsonl> [--public-key <pem>] | state [--seq <n> | --at <ISO>] | compare | export [--from <n>] [--to <n>] | anchors';

class UsageError extends Error {}

function options(argv: string[], allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const name = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !allowed.includes(name)) throw new UsageError(`unknown argument ${argv[i]}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    out[name] = value;
  }
  return out;
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} needs a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function print(value: unknown, pretty = true): void {
  process.stdout.write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

/** Writes respecting back-pressure, so `audit export > file` streams in constant memory. */
function write(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(chunk, (err) => (err ? reject(err) : undefined))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'verify') {
    const o = options(rest, ['from', 'file', 'anchors', 'public-key']);
    if (o['public-key'] !== undefined && o.anchors === undefined) throw new UsageError('--public-key goes with --anchors');
    if (o.anchors !== undefined) {
      if (o.from !== undefined || o.file !== undefined) throw new UsageError('--anchors verifies the whole log in the database: no --from or --file');
      const keyFile = o['public-key'] ?? anchorConfigFromEnv().publicKeyFile;
      let publicKey: KeyObject;
      try {
        publicKey = parsePublicKey(readFileSync(keyFile, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot use the public key ${keyFile}: ${(err as Error).message}`);
      }
      let anchorLines: string[];
      try {
        anchorLines = readFileSync(o.anchors, 'utf8').split('\n');
      } catch (err) {
        throw new UsageError(`cannot read the anchors file ${o.anchors}: ${(err as Error).message}`);
      }
      return withDatabase(async (ds, database) => {
        const r = await verifyLogWithAnchors(ds, anchorLines, publicKey);
        print({ ...r, anchorsFile: o.anchors, publicKey: keyFile, database }, false);
        return r.ok ? 0 : 1;
      });
    }
    if (o.file !== undefined) {
      if (o.from !== undefined) throw new UsageError('--file and --from do not go together');
      const lines = createInterface({ input: createReadStream(o.file), crlfDelay: Infinity });
      const r = await verifyExportLines(lines);
      print({ ...r, file: o.file }, false);
      return r.ok ? 0 : 1;
    }
    return withDatabase(async (ds, database) => {
      const r = await verifyLog(ds, { fromSeq: positive(o.from, 'from') });
      print({ ...r, database }, false);
      return r.ok ? 0 : 1;
    });
  }
  if (command === 'state') {
    const o = options(rest, ['seq', 'at']);
    if (o.seq !== undefined && o.at !== undefined) throw new UsageError('give --seq or --at, not both');
    const toSeq = positive(o.seq, 'seq');
    let at: number | undefined;
    if (o.at !== undefined) {
      const parsed = parseStopTime(o.at);
      if (parsed === null) throw new UsageError(`--at needs an ISO-8601 UTC instant ('2027-01-04T14:30:00.000Z'), got ${JSON.stringify(o.at)}`);
      at = parsed;
    }
    return withDatabase(async (ds) => {
      const { state } = await replayLog(ds, { ...(toSeq !== undefined ? { toSeq } : {}), ...(at !== undefined ? { at } : {}) });
      print(state);
      return state.divergenceCount === 0 ? 0 : 1;
    });
  }
  if (command === 'compare') {
    options(rest, []);
    return withDatabase(async (ds) => {
      const c = await compareWithProjections(ds);
      print(c);
      return c.ok ? 0 : 1;
    });
  }
  if (command === 'export') {
    const o = options(rest, ['from', 'to']);
    const fromSeq = positive(o.from, 'from');
    const toSeq = positive(o.to, 'to');
    return withDatabase(async (ds) => {
      for await (const chunk of exportLogLines(ds, { fromSeq, toSeq })) await write(chunk);
      return 0;
    });
  }
  if (command === 'anchors') {
    options(rest, []);
    const lines = await readAnchorsFromTopic(createMessageBus(kafkaConfigFromEnv('audit')), topicName('anchors'), consumerGroup('audit-anchors-cli'));
    for (const line of lines) await write(line + '\n');
    return 0;
  }
  throw new UsageError(command ? `unknown command ${command}` : 'no command');
}

async function withDatabase(body: (ds: ReturnType<typeof createDataSource>, database: string) => Promise<number>): Promise<number> {
  const url = databaseUrl();
  const ds = createDataSource(url, { poolSize: 2, applicationName: 'audit' });
  try {
    await ds.initialize();
    return await body(ds, redactUrl(url));
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n${USAGE}\n`);
    else process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message ?? String(err) }) + '\n');
    process.exit(2);
  },
);
