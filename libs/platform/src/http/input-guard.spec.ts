import { findInputProblem, findRequestInputProblem, isStorableText, MAX_INPUT_DEPTH, rewriteUndecodableUrl } from './input-guard';

const nested = (levels: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};

describe('input guard', () => {
  it('text Postgres can store: everything but NUL and unpaired surrogates', () => {
    for (const ok of ['', 'R1-H', 'é 東京', '😀', '\u0001\u007f\uffff', '\ud83d\ude00x']) expect(isStorableText(ok)).toBe(true);
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'a\ud800b', '\udc00', '\ude00\ud83d', '😀\ud800']) expect(isStorableText(bad)).toBe(false);
  });

  it('names the first offending field by its dotted path; property names are checked too', () => {
    expect(findInputProblem({ a: 'ok', b: ['x', { c: 'y\u0000' }] })).toMatchObject({ field: 'b.1.c' });
    expect(findInputProblem({ a: { 'k\u0000': 1 } })).toMatchObject({ field: 'a' });
    expect(findInputProblem('\u0000')).toEqual({ message: expect.any(String) });
    expect(findInputProblem({ a: 1, b: true, c: null, d: [1.5, 'ok'] })).toBeNull();
  });

  it(`at most ${MAX_INPUT_DEPTH} levels of nesting; 50,000 levels do not overflow the walk`, () => {
    expect(findInputProblem({ f: nested(MAX_INPUT_DEPTH - 1) })).toBeNull();
    expect(findInputProblem({ f: nested(MAX_INPUT_DEPTH) })).toMatchObject({ field: 'f', message: expect.stringContaining('nested') });
    expect(findInputProblem({ f: nested(50_000) })).toMatchObject({ field: 'f' });
  });

  it('checks params, then query, then body', () => {
    expect(findRequestInputProblem({ params: { accountId: 'A\u0000' }, query: { q: '\u0000' }, body: { b: '\u0000' } })).toMatchObject({ field: 'accountId' });
    expect(findRequestInputProblem({ params: {}, query: { q: ['ok', '\u0000'] } })).toMatchObject({ field: 'q.1' });
    expect(findRequestInputProblem({ params: {}, query: {}, body: undefined })).toBeNull();
  });

  it('rewrites only the path escapes that are not UTF-8, to %00; leaves everything else alone', () => {
    expect(rewriteUndecodableUrl('/accounts/R1-H/positions?x=%FF')).toBe('/accounts/R1-H/positions?x=%FF');
    expect(rewriteUndecodableUrl('/accounts/%C3%A9%F0%9F%98%80/cash')).toBe('/accounts/%C3%A9%F0%9F%98%80/cash');
    expect(rewriteUndecodableUrl('/accounts/R1-H%ED%A0%80/cash?wait=true')).toBe('/accounts/R1-H%00/cash?wait=true');
    expect(rewriteUndecodableUrl('/accounts/%FF/cash')).toBe('/accounts/%00/cash');
    expect(rewriteUndecodableUrl('/accounts/100%/cash')).toBe('/accounts/100%00/cash');
    expect(rewriteUndecodableUrl('/accounts/%C3%A9x%C3/cash')).toBe('/accounts/%C3%A9x%00/cash');
  });
});
