/**
 * The log reader's decoding off the folding thread must give exactly what the replay would get by
 * itself: eventFromWire(JSON.parse(text)) for every payload text, the same keys in the same order and
 * the same values (-0 included), or nothing (then the replay decodes the payload itself). Checked
 * on hand-picked edge cases, on random wire-like payloads printed the way Postgres prints jsonb and
 * in other JSON layouts, on random JSON values, and across batches (the string tables start afresh).
 */
import fc from 'fast-check';
import { eventFromWire } from '@ch/rulebook';
import { MAX_STRINGS, ValueDecoder, ValueEncoder } from './log-codec';
import { encodeEvent, PayloadTranscoder } from './log-transcoder';

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

function reference(text: string): Outcome {
  try {
    return { ok: true, value: eventFromWire(JSON.parse(text) as Record<string, unknown>) };
  } catch {
    return { ok: false };
  }
}

/** Same value, same own keys in the same order, recursively; numbers by Object.is (-0 is not 0). */
function identical(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => identical((a as Record<string | symbol, unknown>)[k], (b as Record<string | symbol, unknown>)[k]));
}

/** Decodes each text as the reader does (several batches share the tables); one outcome each. */
class Reader {
  private readonly enc = new ValueEncoder();
  private readonly tc = new PayloadTranscoder(this.enc);
  private readonly dec = new ValueDecoder();

  batch(texts: readonly string[]): Outcome[] {
    // The texts back to back in one buffer, as the worker holds a batch's payloads.
    const bufs = texts.map((t) => Buffer.from(t, 'utf8'));
    const all = Buffer.concat([Buffer.from('x'), ...bufs, Buffer.from('y')]);
    let at = 1;
    for (const b of bufs) {
      const flag = this.enc.slot();
      // The buffer is the batch's text itself: textBase 0.
      this.enc.patch(flag, encodeEvent(this.tc, this.enc, all, at, at + b.length, 0) ? 1 : 0);
      at += b.length;
    }
    this.dec.load(this.enc.take(), all);
    return texts.map(() => (this.dec.int() ? { ok: true, value: this.dec.value() } : { ok: false }));
  }
}

function expectSame(texts: readonly string[], reader = new Reader()): void {
  const got = reader.batch(texts);
  texts.forEach((text, i) => {
    const want = reference(text);
    const g = got[i];
    if (!want.ok) {
      expect({ text, ok: g.ok }).toEqual({ text, ok: false });
      return;
    }
    // Declining is allowed only where the encoding cannot carry the value (a `__proto__` key).
    if (!g.ok) {
      expect(text).toMatch(/__proto__/);
      return;
    }
    if (!identical(g.value, want.value)) throw new Error(`decoded differently: ${text}\n got ${JSON.stringify(g.value)}\nwant ${JSON.stringify(want.value)}`);
  });
}

/** JSON as Postgres prints jsonb: keys by length then bytes, ', ' and ': ' between members. */
function jsonb(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(jsonb).join(', ')}]`;
  const keys = Object.keys(v).sort((a, b) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length - y.length || Buffer.compare(x, y);
  });
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonb((v as Record<string, unknown>)[k])}`).join(', ')}}`;
}

const ISO = fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString());
const DECIMAL = fc.oneof(
  fc
    .integer({ min: -10_000_000, max: 10_000_000 })
    .map((c) => `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`),
  fc.constantFrom('200', '200.0', '1.005', '-0.00', ' 2.05', 'abc', '', '1e3', '99999999999999999999.00'),
);
const TEXT = fc.oneof(
  fc.constantFrom('A1', 'c42', 'SIT-2027-03', 'buy', 'sell', 'GTC', 'IOC', '', 'é', 'a"b', 'a\\b', 'line\nbreak', '\u0000', '😀', '__proto__'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const ODD = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(-0), TEXT);
const LEAF = fc.oneof(DECIMAL, ISO, ODD);

/** Payloads shaped like the services' events, with the odd value where the rulebook converts. */
const WIRE = fc.record(
  {
    at: fc.oneof({ weight: 4, arbitrary: ISO }, { weight: 1, arbitrary: LEAF }),
    type: fc.constantFrom('OrderAccepted', 'OrderCancelled', 'Trade', 'TradeCleared', 'CashDeposited'),
    qty: fc.oneof(fc.integer({ min: 0, max: 1000 }), ODD),
    price: fc.oneof({ weight: 4, arbitrary: DECIMAL }, { weight: 1, arbitrary: LEAF }),
    amount: DECIMAL,
    account: TEXT,
    clientOrderId: TEXT,
    orderId: fc.oneof(fc.integer({ min: 1, max: 2 ** 53 - 1 }), fc.constant(2 ** 60)),
    sigma: fc.oneof(fc.constantFrom('0.1', '1e-7', 'x'), ODD),
    band: fc.record({ lo: DECIMAL, hi: DECIMAL, tier: fc.integer({ min: 1, max: 2 }) }, { requiredKeys: [] }),
    legs: fc.array(fc.record({ account: TEXT, side: fc.constantFrom('buy', 'sell'), qty: fc.integer(), price: LEAF }, { requiredKeys: [] }), { maxLength: 3 }),
    extra: fc.jsonValue({ maxDepth: 2 }),
    start: LEAF,
    end: fc.oneof(ISO, fc.constant(null)),
  },
  { requiredKeys: [] },
);

describe('log reader decoding (transcoder and codec)', () => {
  it('decodes Postgres-printed payloads as eventFromWire(JSON.parse(...)) does, or declines', () => {
    fc.assert(
      fc.property(fc.array(WIRE, { minLength: 1, maxLength: 20 }), (events) => {
        expectSame(events.map(jsonb));
      }),
      { numRuns: 400 },
    );
  });

  it('decodes payloads of the same few shapes whose values change kind (the guesses from last time fail)', () => {
    const reader = new Reader();
    fc.assert(
      fc.property(fc.array(fc.tuple(WIRE, fc.constantFrom('A', 'B')), { minLength: 1, maxLength: 30 }), (events) => {
        // Mostly the same few shapes, the odd value changing kind (a null time, a number price, an escape).
        expectSame(
          events.map(([e]) => jsonb(e)),
          reader,
        );
      }),
      { numRuns: 400 },
    );
    const shapes = [
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "side": "buy", "price": "200.00", "account": "A7", "end": null}',
      '{"at": "2027-01-04T14:00:00.014Z", "qty": 6, "side": "sell", "price": "199.99", "account": "A8", "end": "2027-01-04T14:00:00.020Z"}',
    ];
    const texts: string[] = [];
    for (let i = 0; i < 200; i++) {
      const t = shapes[i % 2]
        .replace('"qty": 5', `"qty": ${i % 7 === 0 ? '5.5' : i % 11 === 0 ? '-0' : String(i)}`)
        .replace('A7', i % 13 === 0 ? 'A\\7' : `A${i}`);
      texts.push(i % 17 === 0 ? t.replace('"price": "200.00"', '"price": 200') : i % 19 === 0 ? t.replace(', "end": null}', ', "end": null, "x": 1}') : t);
    }
    expectSame(texts, reader);
  });

  it('decodes single-byte corruptions of payloads seen before as the reference does (the guesses check every byte)', () => {
    const reader = new Reader();
    const base = [
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "tif": "IOC", "side": "buy", "type": "OrderAccepted", "price": "200.00", "account": "A7", "orderId": 8, "orderType": "limit", "instrument": "SIT-2027-03", "clientOrderId": "c7"}',
      '{"qty": 3, "legs": [{"qty": 3, "side": "buy", "account": "A1"}, {"qty": 3, "side": "sell", "account": "A2"}], "price": "199.99", "tradeId": 12}',
      '{"end": null, "tier": 1, "start": "2027-01-04T14:00:00.000Z", "sigma": "0.25"}',
    ];
    // Seen once (keys and values remembered), then corrupted.
    expectSame([...base, ...base], reader);
    const SIGNIFICANT = '{}[],: "\\0123456789-.eEa\u00e9\n';
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.nat(),
        fc.constantFrom(...SIGNIFICANT.split('')),
        fc.constantFrom('replace', 'insert', 'delete'),
        (which, at, c, how) => {
          const t = base[which];
          const i = at % (t.length + (how === 'insert' ? 1 : 0));
          const text =
            how === 'replace' ? t.slice(0, i) + c + t.slice(i + 1) : how === 'insert' ? t.slice(0, i) + c + t.slice(i) : t.slice(0, i) + t.slice(i + 1);
          expectSame([text, t], reader);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('decodes other layouts of the same payloads too (compact, indented, unsorted)', () => {
    fc.assert(
      fc.property(fc.array(WIRE, { minLength: 1, maxLength: 10 }), (events) => {
        expectSame(events.flatMap((e) => [JSON.stringify(e), JSON.stringify(e, null, 2), ` ${JSON.stringify(e, null, '\t')}\r\n`]));
      }),
      { numRuns: 200 },
    );
  });

  it('decodes any JSON value as the reference does', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 10 }), (values) => {
        expectSame(values.flatMap((v) => [JSON.stringify(v) ?? 'null', jsonb(v)]));
      }),
      { numRuns: 300 },
    );
  });

  it('edge cases: escapes, odd keys, duplicates, numbers, malformed conversions, malformed JSON', () => {
    expectSame([
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "tif": "IOC", "side": "buy", "type": "OrderAccepted", "price": "200.00", "account": "A7", "orderId": 8, "orderType": "limit", "instrument": "SIT-2027-03", "clientOrderId": "c7"}',
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "tif": "IOC", "side": "buy", "type": "OrderAccepted", "price": "200.00", "account": "A7", "orderId": 8, "orderType": "limit", "instrument": "SIT-2027-03", "clientOrderId": "c\\"7"}',
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "tif": "IOC", "side": "buy", "type": "OrderAccepted", "price": "200.00", "account": "A7", "orderId": 8, "orderType": "limit", "instrument": "SIT-2027-03", "clientOrderId": "c7", "clientOrderId": "c8"}',
      '{"a": 1, "a": 2}',
      '{"a": {"b": 1, "b": {"c": 2}}, "b": 3}',
      '{"__proto__": {"x": 1}, "y": 2}',
      '{"__proto__": 5}',
      '{"1": "a", "b": 2, "0": "c"}',
      '{"4294967295": 1, "4294967294": 2, "01": 3}',
      '{"price": 5}',
      '{"price": true}',
      '{"price": null, "at": null}',
      '{"price": "1.005"}',
      '{"price": "\\u0032.05"}',
      '{"at": "2027-13-01T00:00:00.000Z"}',
      '{"at": "2027-02-29T00:00:00.000Z"}',
      '{"at": "2028-02-29T00:00:00.000Z", "start": "1969-12-31T23:59:59.999Z"}',
      '{"sigma": "0.30000000000000004", "n": 1e400, "m": -0, "k": 0.1, "j": 123456789012345678, "i": 1E+2, "h": -12.5e-3}',
      '{"s": "é😀\\u00e9", "t": "\\ud83d\\ude00", "u": "tab\\tnew\\nline"}',
      '{"legs": [{"account": "A1", "side": "buy"}, {"side": "sell", "account": "A2"}], "tradeId": 3}',
      '{"a": [], "b": {}, "c": [[], [{}]], "d": [1, "x", null, true, false]}',
      '{}',
      '[]',
      '"text"',
      '12',
      'null',
      '{"a": 01}',
      '{"a": 1,}',
      '{"a" 1}',
      '{"a": tru}',
      '{"a": "x\u0001"}',
      '{"a": 1} x',
      '{"a": 1',
      ' {"a" :1 , "b":[ 1 ,2 ] } ',
    ]);
  });

  it('reads the payloads Postgres prints itself, without falling back', () => {
    const enc = new ValueEncoder();
    const tc = new PayloadTranscoder(enc);
    const texts = [
      '{"at": "2027-01-04T14:00:00.013Z", "qty": 5, "tif": "IOC", "side": "buy", "type": "OrderAccepted", "price": "200.00", "account": "A7", "orderId": 8, "orderType": "limit", "instrument": "SIT-2027-03", "clientOrderId": "c7"}',
      '{"qty": 3, "legs": [{"qty": 3, "side": "buy", "account": "A1", "counterparty": "CCP"}, {"qty": 3, "side": "sell", "account": "A2", "counterparty": "CCP"}], "price": "199.99", "tradeId": 12, "instrument": "SIT-2027-03"}',
      '{"at": "2027-01-04T14:00:00.000Z", "type": "MemberAdmitted", "member": "M0", "accounts": ["A0"]}',
    ];
    for (const text of [...texts, ...texts]) {
      const b = Buffer.from(text);
      expect(tc.encode(b, 0, b.length)).toBe(true);
    }
    expect(tc.counts).toEqual({ read: 6, declined: 0 });
  });

  it('keeps strings and shapes straight across batches and when the tables start afresh', () => {
    const reader = new Reader();
    for (let batch = 0; batch < 3; batch++) {
      const texts: string[] = [];
      for (let i = 0; i < MAX_STRINGS / 2 + 7; i++)
        texts.push(jsonb({ at: '2027-01-04T14:00:00.013Z', type: 'OrderAccepted', clientOrderId: `c${batch}-${i}`, account: `A${i % 50}`, [`k${i % 5}`]: i }));
      expectSame(texts, reader);
    }
    // clientOrderId's values do not recur: from now on they go as their bytes in the text.
    const odd = ['', 'é', 'c😀', 'a"b', 'x\\y', 'tab\t', 'z'.repeat(30), 'ü'.repeat(13), '\u0000'];
    expectSame(
      odd.flatMap((c, i) => [jsonb({ type: 'OrderAccepted', clientOrderId: c, account: `A${i}` }), JSON.stringify({ clientOrderId: c, n: i })]),
      reader,
    );
  });

  it('round-trips JSON values through the encoding exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 5 }), { maxLength: 10 }), (values) => {
        const enc = new ValueEncoder();
        const dec = new ValueDecoder();
        const sent = values.filter((v) => !JSON.stringify(v)?.includes('"__proto__"'));
        for (const v of sent) enc.value(v);
        dec.load(enc.take());
        for (const v of sent) expect(identical(dec.value(), v)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
