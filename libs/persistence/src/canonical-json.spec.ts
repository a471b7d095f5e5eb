import { CanonicalJsonError, canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('is independent of insertion order', () => {
    const a = { price: '2.05', qty: 10, side: 'buy' };
    const b = { side: 'buy', qty: 10, price: '2.05' };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it('orders keys by UTF-16 code unit (upper case before lower case, shorter prefix first)', () => {
    expect(canonicalJson({ b: 0, B: 0, ab: 0, a: 0, é: 0 })).toBe('{"B":0,"a":0,"ab":0,"b":0,"é":0}');
  });

  it('round-trips through JSON.parse unchanged', () => {
    const v = { s: 'quote " backslash \\ newline \n emoji 🚀 ü', n: -9007199254740991, arr: [], o: {} };
    expect(canonicalJson(JSON.parse(canonicalJson(v)))).toBe(canonicalJson(v));
  });

  it('omits undefined properties and writes -0 as 0', () => {
    expect(canonicalJson({ a: undefined, b: -0 })).toBe('{"b":0}');
  });

  it.each([
    [{ x: 1.5 }, '$.x'],
    [{ x: 2 ** 53 }, '$.x'],
    [{ x: NaN }, '$.x'],
    [{ x: [1, undefined] }, '$.x[1]'],
    [{ x: new Date(0) }, '$.x'],
    [{ x: 10n }, '$.x'],
    [{ x: 'nul\u0000' }, '$.x'],
    [{ x: 'lone \ud800' }, '$.x'],
    [{ x: () => 1 }, '$.x'],
  ])('rejects %p at %s', (value, path) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
    try {
      canonicalJson(value);
    } catch (err) {
      expect((err as CanonicalJsonError).path).toBe(path);
    }
  });

  it('rejects cycles but accepts shared (acyclic) references', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => canonicalJson(cyc)).toThrow(/cycle/);
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });
});
