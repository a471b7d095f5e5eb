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
 * No NestJS here: '@ch/runtime/audit' (the auditor's CLI) imports it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { canonicalJson, chainHead, sql, toSafeNumber, type Db } from '@ch/persistence';
import type { MessageBus, Producer } from '@ch/kafka';

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
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signAnchor(privateKey: KeyObject, fields: { seq: number; hash: string; at: string }): Anchor {
  const unsigned: UnsignedAnchor = { type: ANCHOR_TYPE, version: ANCHOR_VERSION, seq: fields.seq, hash: fields.hash, at: fields.at, keyId: keyIdOf(createPublicKey(privateKey)) };
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
  if (typeof a.at !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(a.at)) throw new AnchorFormatError('at must be an ISO-8601 UTC instant with milliseconds');
  if (typeof a.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(a.keyId)) throw new AnchorFormatError('keyId must be 16 hex digits');
  if (typeof a.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(a.signature)) throw new AnchorFormatError('signature must be base64');
  return { type: ANCHOR_TYPE, version: ANCHOR_VERSION, seq: a.seq, hash: a.hash, at: a.at, keyId: a.keyId, signature: a.signature };
}

/** Whether the anchor was signed by the private half of publicKey (and names that key). */
export function anchorSignatureValid(a: Anchor, publicKey: KeyObject): boolean {
  if (a.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, Buffer.from(anchorSignedText(a), 'utf8'), publicKey, Buffer.from(a.signature, 'base64'));
  } catch {
    return false;
  }
}

/** An Ed25519 public key from PEM text (SPKI); throws with a readable message otherwise. */
export function parsePublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the anchor key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

// ---- checking a log against anchors ------------------------------------------------------------

export type AnchorFailureKind = 'malformed' | 'bad-signature' | 'hash-mismatch' | 'truncated';

export type AnchorCheck =
  | { ok: true; anchors: number; firstAnchoredSeq: number | null; lastAnchoredSeq: number | null }
  | {
      ok: false;
      kind: AnchorFailureKind;
      /** 1-based line of the anchors file (or message number) of the first anchor that fails. */
      line: number;
      /** The anchored seq (null when the line could not be read). */
      seq: number | null;
      /** When that anchor was made. */
      anchoredAt: string | null;
      expected: string;
      found: string;
      message: string;
      /** Anchors checked and found to hold before this one. */
      checked: number;
    };

/** The log as the checker sees it: its last seq, and the stored hash of each asked-for seq. */
export interface AnchoredLog {
  lastSeq: number;
  hashes(seqs: number[]): Promise<Map<number, string>>;
}

/**
 * Checks anchors (lines of an anchors file; empty lines skipped) against a log: every line must
 * be a well-formed anchor signed by publicKey, the log must reach every anchored seq (else it was
 * truncated) and hold the anchored hash there (else it was rewritten). The anchors are taken in
 * seq order (a file may be concatenated from several copies), and the first one that fails is
 * named: its line, seq and time. A rewrite at seq s fails every anchor at or after s, so the
 * first failing anchor also bounds where the rewrite starts (after the last anchor that holds).
 */
export async function checkAnchors(lines: Iterable<string> | AsyncIterable<string>, publicKey: KeyObject, log: AnchoredLog): Promise<AnchorCheck> {
  const anchors: { line: number; anchor: Anchor }[] = [];
  let lineNo = 0;
  for await (const raw of lines) {
    lineNo++;
    if (raw.trim() === '') continue;
    let anchor: Anchor;
    try {
      anchor = parseAnchor(raw);
    } catch (err) {
      const msg = err instanceof AnchorFormatError ? err.message : String(err);
      return { ok: false, kind: 'malformed', line: lineNo, seq: null, anchoredAt: null, expected: 'an EventLogAnchor', found: raw.slice(0, 200), message: `line ${lineNo} is not an anchor: ${msg}`, checked: 0 };
    }
    anchors.push({ line: lineNo, anchor });
  }
  anchors.sort((x, y) => x.anchor.seq - y.anchor.seq || x.line - y.line);
  const keyId = keyIdOf(publicKey);
  const CHUNK = 1000;
  let checked = 0;
  for (let from = 0; from < anchors.length; from += CHUNK) {
    const chunk = anchors.slice(from, from + CHUNK);
    const stored = await log.hashes([...new Set(chunk.map((c) => c.anchor.seq).filter((s) => s <= log.lastSeq))]);
    for (const { line, anchor: a } of chunk) {
      const fail = (kind: AnchorFailureKind, expected: string, found: string, message: string): AnchorCheck => ({ ok: false, kind, line, seq: a.seq, anchoredAt: a.at, expected, found, message, checked });
      if (!anchorSignatureValid(a, publicKey)) {
        const why = a.keyId !== keyId ? `it names key ${a.keyId}, not the auditor's key ${keyId}` : 'its signature does not verify with the public key';
        return fail('bad-signature', `a signature by key ${keyId}`, a.signature, `the anchor at line ${line} (seq ${a.seq}, ${a.at}) is refused: ${why} (forged or altered)`);
      }
      if (a.seq > log.lastSeq) {
        return fail('truncated', `seq ${a.seq}`, `seq ${log.lastSeq}`, `the log ends at seq ${log.lastSeq} but the anchor at line ${line} (${a.at}) covers seq ${a.seq}: events were removed after they were anchored`);
      }
      const hash = stored.get(a.seq);
      if (hash === undefined) {
        return fail('truncated', `seq ${a.seq}`, 'nothing', `event ${a.seq}, anchored at line ${line} (${a.at}), is missing from the log`);
      }
      if (hash !== a.hash) {
        return fail('hash-mismatch', a.hash, hash, `the log no longer matches the anchor at line ${line} (seq ${a.seq}, ${a.at}): event ${a.seq}'s chain hash changed, so an event at or before seq ${a.seq} was rewritten after it was anchored`);
      }
      checked++;
    }
  }
  return { ok: true, anchors: checked, firstAnchoredSeq: anchors[0]?.anchor.seq ?? null, lastAnchoredSeq: anchors.at(-1)?.anchor.seq ?? null };
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

/**
 * Every anchor on the anchors topic (one partition) up to its end as of the call, as lines in
 * offset order. Reads with its own consumer group (`groupId`), always from offset 0; callers run
 * one read at a time per group.
 */
export async function readAnchorsFromTopic(bus: MessageBus, topic: string, groupId: string, timeoutMs = 30_000): Promise<string[]> {
  const admin = await bus.admin();
  let end: bigint;
  try {
    end = BigInt((await admin.topicOffsets(topic)).find((p) => p.partition === 0)?.offset ?? '0');
  } finally {
    await admin.close();
  }
  if (end === 0n) return [];
  const byOffset = new Map<bigint, string>();
  let reached!: () => void;
  const done = new Promise<void>((r) => (reached = r));
  const consumer = await bus.consumer({ groupId, startOffset: async () => '0' });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe([topic]);
    await consumer.run({
      eachBatch: async (b) => {
        for (const m of b.messages) {
          const offset = BigInt(m.offset);
          if (offset < end) byOffset.set(offset, m.value.toString('utf8'));
          if (offset >= end - 1n) reached();
        }
      },
    });
    await Promise.race([done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out reading ${topic} to offset ${end}`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return [...byOffset.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, line]) => line);
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
      logLine('warn', this.deps.service, 'the anchors file ended with a torn line (a crash while appending): remove that line before verifying with it', { anchorsFile: c.file });
    }
    if (previous) {
      // The log must still hold what was last anchored. If not (rewritten, truncated, or a
      // development database reset beside an old anchors file) say so loudly, and anchor the log
      // as it is now: the old anchors stay in the file as the evidence `audit verify --anchors` reads.
      const log = await anchoredLogOf(this.deps.db);
      const held = previous.seq <= log.lastSeq ? (await log.hashes([previous.seq])).get(previous.seq) : undefined;
      if (held === previous.hash) this.last = { seq: previous.seq, atMs: Date.parse(previous.at) };
      else logLine('error', this.deps.service, 'the event log no longer holds the last anchor in the anchors file: it was rewritten, truncated or reset (run audit verify --anchors); anchoring the log as it is now', { anchorsFile: c.file, seq: previous.seq, anchoredHash: previous.hash, logHash: held ?? null });
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
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, Math.min(this.deps.config.intervalMs, 1000));
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
      await this.deps.producer.send(this.deps.topic, this.pending.map((a) => ({ key: ANCHOR_KEY, value: anchorLine(a) })));
      this.pending.length = 0;
    } catch (err) {
      logLine('warn', this.deps.service, 'could not publish anchors; retrying next round', { pending: this.pending.length, error: String((err as Error)?.message ?? err) });
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
