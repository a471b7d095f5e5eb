import { createHash } from 'crypto';
import { canonicalJson } from './canonical-json';
import { GENESIS_HASH, type HashedFields, canonicalEventText, computeEventHash, isIsoMillis } from './event-log';

const base: HashedFields = {
  seq: 1,
  eventId: '0b7c6c8e-3f4a-4e4b-9b1e-2d8f0c1a2b3c',
  type: 'OrderAccepted',
  version: 1,
  stream: 'matching:SIT-2027-03',
  streamSeq: 1,
  at: '2027-01-04T14:30:00.000Z',
  actor: 'member:M001',
  correlationId: 'c-1',
  causationId: null,
  source: 'ch.orders/0/41',
  payload: { side: 'buy', price: '2.05', qty: 10, tags: ['a', { z: 1, y: 2 }] },
  prevHash: GENESIS_HASH,
};

describe('event hashing', () => {
  it('hand-assembled canonical text equals canonicalJson of the same fields', () => {
    const variants: HashedFields[] = [
      base,
      { ...base, causationId: 'cause-"quoted"', source: null, payload: null },
      { ...base, seq: 9007199254740991, streamSeq: 123456789012, version: 7, actor: 'operations:ünïcode', payload: [] },
    ];
    for (const e of variants) {
      expect(canonicalEventText(e)).toBe(
        canonicalJson({
          seq: e.seq,
          eventId: e.eventId,
          type: e.type,
          version: e.version,
          stream: e.stream,
          streamSeq: e.streamSeq,
          at: e.at,
          actor: e.actor,
          correlationId: e.correlationId,
          causationId: e.causationId,
          source: e.source,
          payload: e.payload,
          prevHash: e.prevHash,
        }),
      );
    }
  });

  it('is the SHA-256 of the canonical text, and stable (pinned vector)', () => {
    const text = canonicalEventText(base);
    expect(text).toBe(
      '{"actor":"member:M001","at":"2027-01-04T14:30:00.000Z","causationId":null,"correlationId":"c-1",' +
        '"eventId":"0b7c6c8e-3f4a-4e4b-9b1e-2d8f0c1a2b3c","payload":{"price":"2.05","qty":10,"side":"buy","tags":["a",{"y":2,"z":1}]},' +
        `"prevHash":"${GENESIS_HASH}","seq":1,"source":"ch.orders/0/41","stream":"matching:SIT-2027-03","streamSeq":1,` +
        '"type":"OrderAccepted","version":1}',
    );
    expect(computeEventHash(base)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
  });

  it('changes when any hashed field changes', () => {
    const h = computeEventHash(base);
    const changes: Partial<HashedFields>[] = [
      { seq: 2 },
      { type: 'OrderRejected' },
      { version: 2 },
      { stream: 'clearing' },
      { streamSeq: 2 },
      { at: '2027-01-04T14:30:00.001Z' },
      { actor: 'member:M002' },
      { correlationId: 'c-2' },
      { causationId: 'x' },
      { source: null },
      { payload: { side: 'sell', price: '2.05', qty: 10, tags: ['a', { z: 1, y: 2 }] } },
      { prevHash: 'f'.repeat(64) },
    ];
    for (const c of changes) expect(computeEventHash({ ...base, ...c })).not.toBe(h);
  });

  it('does not depend on payload key order', () => {
    expect(computeEventHash({ ...base, payload: { tags: ['a', { y: 2, z: 1 }], qty: 10, price: '2.05', side: 'buy' } })).toBe(computeEventHash(base));
  });
});

describe('isIsoMillis', () => {
  it.each(['2027-01-04T14:30:00.000Z', '2028-02-29T23:59:59.999Z'])('accepts %s', (s) => expect(isIsoMillis(s)).toBe(true));
  it.each([
    '2027-01-04T14:30:00Z',
    '2027-01-04T14:30:00.0000Z',
    '2027-01-04T14:30:00.000+00:00',
    '2027-02-30T00:00:00.000Z',
    '2027-01-04 14:30:00.000Z',
    1_700_000_000_000,
  ])('rejects %p', (s) => expect(isIsoMillis(s)).toBe(false));
});
