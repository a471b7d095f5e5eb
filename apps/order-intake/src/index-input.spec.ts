import { computeTpi } from '@ch/domain';
import { isIndexName, readIndexRows } from './index-input';

const tpiRow = { provider: 'A', price: '2.10', volume: '1000', mmlu: 88, humaneval: 70, gsm8k: 93 };
const gciRow = { provider: 'X', gpu: 'H100-80GB-SXM', price: '3.05', volume: '5000' };

describe('index publication rows', () => {
  it('reads the SPEC §10 shapes, scores as decimal strings', () => {
    expect(readIndexRows('TPI', [tpiRow, { ...tpiRow, provider: ' B ', humaneval: 66.9, gsm8k: '92.5' }])).toEqual({
      ok: true,
      index: 'TPI',
      rows: [
        { provider: 'A', price: '2.10', volume: '1000', mmlu: '88', humaneval: '70', gsm8k: '93' },
        { provider: 'B', price: '2.10', volume: '1000', mmlu: '88', humaneval: '66.9', gsm8k: '92.5' },
      ],
    });
    expect(readIndexRows('GCI', [gciRow])).toEqual({ ok: true, index: 'GCI', rows: [gciRow] });
    expect(readIndexRows('TPI', [])).toEqual({ ok: true, index: 'TPI', rows: [] });
  });

  it('names the first malformed field by its path', () => {
    const field = (index: 'TPI' | 'GCI', rows: unknown) => {
      const r = readIndexRows(index, rows);
      return r.ok ? null : r.field;
    };
    expect(field('TPI', 'x')).toBe('providers');
    expect(field('TPI', [tpiRow, 5])).toBe('providers.1');
    expect(field('TPI', [{ ...tpiRow, price: 2.1 }])).toBe('providers.0.price');
    expect(field('TPI', [{ ...tpiRow, price: '0.00' }])).toBe('providers.0.price');
    expect(field('TPI', [{ ...tpiRow, price: '1e2' }])).toBe('providers.0.price');
    expect(field('TPI', [{ ...tpiRow, volume: '-5' }])).toBe('providers.0.volume');
    // Bounds (libs/domain/src/bounds.ts): a price up to 100000, a volume up to 10^15.
    expect(field('TPI', [{ ...tpiRow, price: '100000.000' }])).toBeNull();
    expect(field('TPI', [{ ...tpiRow, price: '100000.01' }])).toBe('providers.0.price');
    expect(field('GCI', [{ ...gciRow, volume: '1000000000000000' }])).toBeNull();
    expect(field('GCI', [{ ...gciRow, volume: '1000000000000000.5' }])).toBe('providers.0.volume');
    expect(field('TPI', [{ ...tpiRow, provider: '  ' }])).toBe('providers.0.provider');
    expect(field('TPI', [tpiRow, { ...tpiRow, gsm8k: 100.5 }])).toBe('providers.1.gsm8k');
    expect(field('TPI', [{ ...tpiRow, mmlu: '100.0' }])).toBeNull();
    expect(field('TPI', [{ ...tpiRow, mmlu: null }])).toBe('providers.0.mmlu');
    expect(field('TPI', [{ ...tpiRow, gpu: 'B200' }])).toBe('providers.0.gpu');
    expect(field('GCI', [{ ...gciRow, mmlu: 90 }])).toBe('providers.0.mmlu');
    expect(field('GCI', [{ ...gciRow, gpu: '' }])).toBe('providers.0.gpu');
    expect(
      field(
        'GCI',
        Array.from({ length: 1001 }, (_, i) => ({ ...gciRow, provider: `P${i}` })),
      ),
    ).toBe('providers');
  });

  it('gives computeTpi what it computes exactly (scores as strings change nothing)', () => {
    const r = readIndexRows('TPI', [
      { provider: 'A', price: '1.15', volume: '1', mmlu: 86, humaneval: 67, gsm8k: 92 },
      { provider: 'B', price: '2.20', volume: '1', mmlu: 86, humaneval: 67, gsm8k: 92 },
      { provider: 'C', price: '0.70', volume: '1', mmlu: 86, humaneval: 67, gsm8k: 92 },
      { provider: 'D', price: '0.2002', volume: '1', mmlu: 86, humaneval: 67, gsm8k: 92 },
    ]);
    if (!r.ok || r.index !== 'TPI') throw new Error('expected TPI rows');
    expect(computeTpi(r.rows)).toMatchObject({ ok: true, publication: { value: '1.0626', valueExact: '21251/20000' } });
  });

  it('knows the two indices', () => {
    expect([isIndexName('TPI'), isIndexName('GCI'), isIndexName('tpi'), isIndexName('SIT')]).toEqual([true, true, false, false]);
  });
});
