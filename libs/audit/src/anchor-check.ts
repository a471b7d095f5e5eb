/**
 * Checking the event log against its anchors (docs/decisions/0013-chain-anchors.md): the auditor's
 * side. The anchor's format, the signing and the Anchorer clearing runs are in @ch/runtime/anchors.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { MessageBus } from '@ch/kafka';
import { AnchorFormatError, anchorSignedText, keyIdOf, parseAnchor, type Anchor, type AnchoredLog } from '@ch/runtime/anchors';

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
      return {
        ok: false,
        kind: 'malformed',
        line: lineNo,
        seq: null,
        anchoredAt: null,
        expected: 'an EventLogAnchor',
        found: raw.slice(0, 200),
        message: `line ${lineNo} is not an anchor: ${msg}`,
        checked: 0,
      };
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
      const fail = (kind: AnchorFailureKind, expected: string, found: string, message: string): AnchorCheck => ({
        ok: false,
        kind,
        line,
        seq: a.seq,
        anchoredAt: a.at,
        expected,
        found,
        message,
        checked,
      });
      if (!anchorSignatureValid(a, publicKey)) {
        const why = a.keyId !== keyId ? `it names key ${a.keyId}, not the auditor's key ${keyId}` : 'its signature does not verify with the public key';
        return fail(
          'bad-signature',
          `a signature by key ${keyId}`,
          a.signature,
          `the anchor at line ${line} (seq ${a.seq}, ${a.at}) is refused: ${why} (forged or altered)`,
        );
      }
      if (a.seq > log.lastSeq) {
        return fail(
          'truncated',
          `seq ${a.seq}`,
          `seq ${log.lastSeq}`,
          `the log ends at seq ${log.lastSeq} but the anchor at line ${line} (${a.at}) covers seq ${a.seq}: events were removed after they were anchored`,
        );
      }
      const hash = stored.get(a.seq);
      if (hash === undefined) {
        return fail('truncated', `seq ${a.seq}`, 'nothing', `event ${a.seq}, anchored at line ${line} (${a.at}), is missing from the log`);
      }
      if (hash !== a.hash) {
        return fail(
          'hash-mismatch',
          a.hash,
          hash,
          `the log no longer matches the anchor at line ${line} (seq ${a.seq}, ${a.at}): event ${a.seq}'s chain hash changed, so an event at or before seq ${a.seq} was rewritten after it was anchored`,
        );
      }
      checked++;
    }
  }
  return { ok: true, anchors: checked, firstAnchoredSeq: anchors[0]?.anchor.seq ?? null, lastAnchoredSeq: anchors.at(-1)?.anchor.seq ?? null };
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
    await Promise.race([
      done,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out reading ${topic} to offset ${end}`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return [...byOffset.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, line]) => line);
}
