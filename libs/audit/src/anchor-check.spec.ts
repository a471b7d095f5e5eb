import { generateKeyPairSync } from 'node:crypto';
import { anchorLine, keyIdOf, parseAnchor, signAnchor, type AnchoredLog } from '@ch/runtime/anchors';
import { anchorSignatureValid, checkAnchors } from './anchor-check';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const h = (n: number) => n.toString(16).padStart(64, '0');

/** A log of `lastSeq` events whose hash at seq n is h(n), with overrides. */
function log(lastSeq: number, overrides: Record<number, string> = {}): AnchoredLog {
  return {
    lastSeq,
    async hashes(seqs) {
      return new Map(seqs.filter((s) => s <= lastSeq).map((s) => [s, overrides[s] ?? h(s)]));
    },
  };
}

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 22, 0, s)).toISOString();
const lines = [10, 20, 30].map((seq) => anchorLine(signAnchor(privateKey, { seq, hash: h(seq), at: at(seq) })));

describe('event log anchors', () => {
  it('signs a line that parses back and verifies with the public key only', () => {
    const a = parseAnchor(lines[0]);
    expect(a).toMatchObject({ type: 'EventLogAnchor', version: 1, seq: 10, hash: h(10), keyId: keyIdOf(publicKey) });
    expect(anchorSignatureValid(a, publicKey)).toBe(true);
    expect(anchorSignatureValid(a, other.publicKey)).toBe(false);
    for (const altered of [
      { ...a, seq: 11 },
      { ...a, hash: h(11) },
      { ...a, at: at(11) },
    ])
      expect(anchorSignatureValid(altered, publicKey)).toBe(false);
  });

  it('holds on an intact log, in any line order', async () => {
    expect(await checkAnchors(['', ...[...lines].reverse(), ''], publicKey, log(35))).toEqual({
      ok: true,
      anchors: 3,
      firstAnchoredSeq: 10,
      lastAnchoredSeq: 30,
    });
    expect(await checkAnchors([], publicKey, log(0))).toEqual({ ok: true, anchors: 0, firstAnchoredSeq: null, lastAnchoredSeq: null });
  });

  it('names the first anchor a rewrite no longer matches', async () => {
    // Event 15 rewritten and every later hash recomputed: anchors 20 and 30 fail, 10 holds.
    const rewritten = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [15 + i, h(1000 + i)]));
    expect(await checkAnchors(lines, publicKey, log(35, rewritten))).toMatchObject({
      ok: false,
      kind: 'hash-mismatch',
      line: 2,
      seq: 20,
      anchoredAt: at(20),
      expected: h(20),
      found: h(1005),
      checked: 1,
    });
  });

  it('refuses a forged anchor: bad signature, or signed by another key', async () => {
    const forged = { ...parseAnchor(lines[1]), hash: h(999) };
    expect(await checkAnchors([lines[0], anchorLine(forged), lines[2]], publicKey, log(35, { 20: h(999) }))).toMatchObject({
      ok: false,
      kind: 'bad-signature',
      line: 2,
      seq: 20,
      checked: 1,
    });
    const byOther = anchorLine(signAnchor(other.privateKey, { seq: 20, hash: h(20), at: at(20) }));
    const r = await checkAnchors([byOther], publicKey, log(35));
    expect(r).toMatchObject({ ok: false, kind: 'bad-signature', line: 1 });
    expect(r.ok === false && r.message).toContain(`names key ${keyIdOf(other.publicKey)}`);
  });

  it('reports a log truncated below an anchor, and a line that is not an anchor', async () => {
    expect(await checkAnchors(lines, publicKey, log(25))).toMatchObject({
      ok: false,
      kind: 'truncated',
      line: 3,
      seq: 30,
      expected: 'seq 30',
      found: 'seq 25',
      checked: 2,
    });
    expect(await checkAnchors([lines[0], '{"seq":5}'], publicKey, log(35))).toMatchObject({ ok: false, kind: 'malformed', line: 2, seq: null });
    expect(await checkAnchors(['not json'], publicKey, log(35))).toMatchObject({ ok: false, kind: 'malformed', line: 1 });
  });
});
