/**
 * Anchors of the event log's hash chain outside the database (docs/decisions/0013-chain-anchors.md).
 *
 * The chain head lives in the same database as the log, so a superuser who disables the triggers,
 * rewrites an event and recomputes every later hash (and the head) leaves a chain that verifies.
 * An anchor is a signed statement "the event at seq N had hash H", made while the system runs and
 * kept where that superuser cannot reach: a Kafka topic and a JSON Lines file auditors keep. The
 * signing key (Ed25519) is a file, never in the database; auditors hold the public key.
 *
 * One anchor is one line (and one Kafka message value):
 *   {"at":"2026-12-06T22:00:00.000Z","hash":"<64 hex>","keyId":"<16 hex>","seq":123,
 *    "signature":"<base64>","type":"EventLogAnchor","version":1}
 * signature = Ed25519 over the UTF-8 canonical JSON of the other six fields.
 *
 * This file is the signing side (the anchor's format, the key, the Anchorer clearing runs). The
 * checking side (checkAnchors, readAnchorsFromTopic) is the auditor's: @ch/audit/anchor-check.
 * No NestJS here: @ch/audit imports the format from it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { canonicalJson, chainHead, sql, toSafeNumber, type Db } from '@ch/persistence';
import type { Producer } from '@ch/kafka';

export const ANCHOR_TYPE = 'EventLogAnchor';
export const ANCHOR_VERSION = 1;
/** Kafka key of every anchor message (the topic has one partition: anchors stay in order). */
export const ANCHOR_KEY = 'event-log';

export interface UnsignedAnchor {
  type: typeof ANCHOR_TYPE;
  version: typeof ANCHOR_VERSION;
  /** The anchored event's seq. */
  seq: number;
  /** That event's hash (the chain hash through seq). */
  hash: string;
  /** When the anchor was made (wall clock of the signer), ISO-8601 UTC with milliseconds. */
  at: string;
  /** keyIdOf the signing key's public half. */
  keyId: string;
}

export interface Anchor extends UnsignedAnchor {
  /** Base64 Ed25519 signature over anchorSignedText. */
  signature: string;
}

/** The bytes that are signed: canonical JSON of every field but the signature. */
export function anchorSignedText(a: UnsignedAnchor): string {
  return canonicalJson({ type: a.type, version: a.version, seq: a.seq, hash: a.hash, at: a.at, keyId: a.keyId });
}

/** A short, stable name of a public key: the first 16 hex digits of SHA-256 of its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function signAnchor(privateKey: KeyObject, fields: { seq: number; hash: string; at: string }): Anchor {
  const unsigned: UnsignedAnchor = {
    type: ANCHOR_TYPE,
    version: ANCHOR_VERSION,
    seq: fields.seq,
    hash: fields.hash,
    at: fields.at,
    keyId: keyIdOf(createPublicKey(privateKey)),
  };
  const signature = sign(null, Buffer.from(anchorSignedText(unsigned), 'utf8'), privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** One JSONL line (no newline), keys sorted. */
export function anchorLine(a: Anchor): string {
  return canonicalJson(a);
}

export class AnchorFormatError extends Error {}

/** Parses one line; throws AnchorFormatError naming what is wrong. Checks form only, not the signature. */
export function parseAnchor(line: string): Anchor {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new AnchorFormatError('not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AnchorFormatError('not a JSON object');
  const a = v as Record<string, unknown>;
  if (a.type !== ANCHOR_TYPE) throw new AnchorFormatError(`type must be ${ANCHOR_TYPE}`);
  if (a.version !== ANCHOR_VERSION) throw new AnchorFormatError(`version must be ${ANCHOR_VERSION}`);
  if (typeof a.seq !== 'number' || !Number.isSafeInteger(a.seq) || a.seq < 1) throw new AnchorFormatError('seq must be a positive integer');
  if (typeof a.hash !== 'string' || !/^[0-9a-f]{64}$/.test(a.hash)) throw new AnchorFormatError('hash must be 64 lowercase hex digits');
  if (typeof a.at !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(a.at))
    throw new AnchorFormatError('at must be an ISO-8601 UTC instant with milliseconds');
  if (typeof a.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(a.keyId)) throw new AnchorFormatError('keyId must be 16 hex digits');
  if (typeof a.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(a.signature)) throw new AnchorFormatError('signature must be base64');
  return { type: ANCHOR_TYPE, version: ANCHOR_VERSION, seq: a.seq, hash: a.hash, at: a.at, keyId: a.keyId, signature: a.signature };
}

// ---- the log as anchors see it ----------------------------------------------------------------

/** The log as the checker sees it: its last seq, and the stored hash of each asked-for seq. */
export interface AnchoredLog {
  lastSeq: number;
  hashes(seqs: number[]): Promise<Map<number, string>>;
}

/** The database's log as an AnchoredLog (its head as read now). */
export async function anchoredLogOf(db: Db): Promise<AnchoredLog> {
  const head = await chainHead(db);
  return {
    lastSeq: head.lastSeq,
    async hashes(seqs) {
      if (seqs.length === 0) return new Map();
      const r = await sql<{ seq: string; hash: string }>(db, 'SELECT seq, hash FROM event_log WHERE seq = ANY($1::bigint[])', [seqs]);
      return new Map(r.rows.map((row) => [toSafeNumber(row.seq, 'event_log.seq'), row.hash]));
    },
  };
}

// ---- the signing key ---------------------------------------------------------------------------

/** Where the anchorer's key and file live, from the environment (paths relative to the working directory). */
export interface AnchorConfig {
  /** CH_ANCHOR_KEY_FILE (default .run/anchor-key.pem): the Ed25519 private key, PEM, mode 0600. */
  keyFile: string;
  /** CH_ANCHOR_PUBLIC_KEY_FILE (default <keyFile>.pub): its public half, written with the key. */
  publicKeyFile: string;
  /** CH_ANCHOR_FILE (default .run/anchors.jsonl): every anchor is appended here. */
  file: string;
  /** CH_ANCHOR_EVERY_EVENTS (default 10000): anchor once the log has grown by this many events... */
  everyEvents: number;
  /** CH_ANCHOR_INTERVAL_MS (default 60000): ...or this long after the last anchor, if it grew at all. */
  intervalMs: number;
  /** CH_ANCHORS=off disables anchoring (default on). */
  enabled: boolean;
}

function positiveEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function anchorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AnchorConfig {
  const keyFile = resolve(env.CH_ANCHOR_KEY_FILE || '.run/anchor-key.pem');
  const enabled = (env.CH_ANCHORS ?? 'on').toLowerCase();
  if (!['on', 'off'].includes(enabled)) throw new Error(`CH_ANCHORS must be on or off, got ${JSON.stringify(env.CH_ANCHORS)}`);
  return {
    keyFile,
    publicKeyFile: resolve(env.CH_ANCHOR_PUBLIC_KEY_FILE || `${keyFile}.pub`),
    file: resolve(env.CH_ANCHOR_FILE || '.run/anchors.jsonl'),
    everyEvents: positiveEnv(env, 'CH_ANCHOR_EVERY_EVENTS', 10_000),
    intervalMs: positiveEnv(env, 'CH_ANCHOR_INTERVAL_MS', 60_000),
    enabled: enabled === 'on',
  };
}

/**
 * The signing key: read from keyFile, or, when the file does not exist, generated and written
 * there with mode 0600 (its public half beside it, 0644). Refuses a key file that group or others
 * may read, and a key that is not Ed25519.
 */
export function loadOrCreateSigningKey(keyFile: string, publicKeyFile: string): { privateKey: KeyObject; publicKey: KeyObject; created: boolean } {
  let created = false;
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      chmodSync(keyFile, 0o600);
      created = true;
    } catch (err) {
      // Another process created it first: use that one.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new Error(`the anchor signing key ${keyFile} may be read by others (mode ${mode.toString(8)}): chmod 600 it`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(keyFile, 'utf8'));
  } catch (err) {
    throw new Error(`the anchor signing key ${keyFile} is not a PEM private key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the anchor signing key ${keyFile} must be Ed25519, got ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  if (!existsSync(publicKeyFile) || readFileSync(publicKeyFile, 'utf8') !== pem) writeFileSync(publicKeyFile, pem, { mode: 0o644 });
  return { privateKey, publicKey, created };
}

// ---- the anchorer --------------------------------------------------------------------------------

export interface AnchorerDeps {
  db: Db;
  producer: Producer;
  /** The anchors topic's full name. */
  topic: string;
  config: AnchorConfig;
  /** The service's name, for its log lines. */
  service: string;
}

function logLine(level: string, service: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, service, msg, ...fields })}\n`);
}

/**
 * The last anchor in a file (by seq) made with keyId, or null; and whether the file ends with a
 * torn line (no newline: a crash mid-append), which the next append must not continue.
 */
async function lastAnchorIn(file: string, keyId: string): Promise<{ last: Anchor | null; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { last: null, torn: false };
    throw err;
  }
  let last: Anchor | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const a = parseAnchor(line);
      if (a.keyId === keyId && (last === null || a.seq > last.seq)) last = a;
    } catch {
      /* the torn line: not an anchor */
    }
  }
  return { last, torn: text.length > 0 && !text.endsWith('\n') };
}

/**
 * Anchors the log while the service runs: polls the chain head (every min(intervalMs, 1 s)) and,
 * once it is everyEvents past the last anchor or intervalMs has passed since the last anchor and
 * the log grew, signs the head (seq, hash), appends the line to the anchors file (fsync) and
 * publishes it on the anchors topic. A publish that fails is retried with the next tick (the
 * pending anchors go out in order); a database that does not answer skips the tick. Never throws
 * into the service: anchoring is evidence, not a condition of trading.
 */
export class Anchorer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private last: { seq: number; atMs: number } = { seq: 0, atMs: 0 };
  private readonly pending: Anchor[] = [];
  private privateKey!: KeyObject;

  constructor(private readonly deps: AnchorerDeps) {}

  async start(): Promise<void> {
    const c = this.deps.config;
    const { privateKey, publicKey, created } = loadOrCreateSigningKey(c.keyFile, c.publicKeyFile);
    this.privateKey = privateKey;
    const { last: previous, torn } = await lastAnchorIn(c.file, keyIdOf(publicKey));
    if (torn) {
      // Its next anchor starts on a line of its own; the torn line stays for the operator to remove.
      await appendDurably(c.file, '\n');
      logLine('warn', this.deps.service, 'the anchors file ended with a torn line (a crash while appending): remove that line before verifying with it', {
        anchorsFile: c.file,
      });
    }
    if (previous) {
      // The log must still hold what was last anchored. If not (rewritten, truncated, or a
      // development database reset beside an old anchors file) say so loudly, and anchor the log
      // as it is now: the old anchors stay in the file as the evidence `audit verify --anchors` reads.
      const log = await anchoredLogOf(this.deps.db);
      const held = previous.seq <= log.lastSeq ? (await log.hashes([previous.seq])).get(previous.seq) : undefined;
      if (held === previous.hash) this.last = { seq: previous.seq, atMs: Date.parse(previous.at) };
      else
        logLine(
          'error',
          this.deps.service,
          'the event log no longer holds the last anchor in the anchors file: it was rewritten, truncated or reset (run audit verify --anchors); anchoring the log as it is now',
          { anchorsFile: c.file, seq: previous.seq, anchoredHash: previous.hash, logHash: held ?? null },
        );
    }
    logLine('info', this.deps.service, created ? 'anchoring the event log with a new signing key' : 'anchoring the event log', {
      keyId: keyIdOf(publicKey),
      publicKeyFile: c.publicKeyFile,
      anchorsFile: c.file,
      topic: this.deps.topic,
      everyEvents: c.everyEvents,
      intervalMs: c.intervalMs,
      lastAnchoredSeq: this.last.seq,
    });
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = this.tick().finally(() => {
          this.running = null;
          this.schedule();
        });
      },
      Math.min(this.deps.config.intervalMs, 1000),
    );
    this.timer.unref?.();
  }

  /** One round: anchor the head if due, publish what is pending. */
  async tick(): Promise<void> {
    const c = this.deps.config;
    try {
      const head = await chainHead(this.deps.db);
      const grown = head.lastSeq - this.last.seq;
      const nowMs = Date.now();
      if (grown > 0 && (grown >= c.everyEvents || nowMs - this.last.atMs >= c.intervalMs)) {
        const anchor = signAnchor(this.privateKey, { seq: head.lastSeq, hash: head.lastHash, at: new Date(nowMs).toISOString() });
        await appendDurably(c.file, anchorLine(anchor) + '\n');
        this.last = { seq: anchor.seq, atMs: nowMs };
        this.pending.push(anchor);
      }
    } catch (err) {
      logLine('warn', this.deps.service, 'could not anchor the event log this round', { error: String((err as Error)?.message ?? err) });
    }
    if (this.pending.length === 0) return;
    try {
      await this.deps.producer.send(
        this.deps.topic,
        this.pending.map((a) => ({ key: ANCHOR_KEY, value: anchorLine(a) })),
      );
      this.pending.length = 0;
    } catch (err) {
      logLine('warn', this.deps.service, 'could not publish anchors; retrying next round', {
        pending: this.pending.length,
        error: String((err as Error)?.message ?? err),
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

async function appendDurably(file: string, text: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const fh = await open(file, 'a', 0o644);
  try {
    await fh.appendFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Starts an Anchorer from the environment (CH_ANCHOR_*), or returns null when CH_ANCHORS=off. */
export async function startAnchoring(deps: Omit<AnchorerDeps, 'config'> & { config?: AnchorConfig }): Promise<Anchorer | null> {
  const config = deps.config ?? anchorConfigFromEnv();
  if (!config.enabled) return null;
  const anchorer = new Anchorer({ ...deps, config });
  await anchorer.start();
  return anchorer;
}
