import fc from 'fast-check';
import {
  DEFAULT_GPU_EQUIVALENCE,
  type GciProviderInput,
  INDEX_WEIGHT_CAP,
  type IndexOutcome,
  type ProviderDetailBase,
  type TpiProviderInput,
  capWeights,
  computeGci,
  computeTpi,
  finalSettlementTicks,
} from './indices';
import { Fraction } from './rational';

const AT_THRESHOLD = { mmlu: 86, humaneval: 67, gsm8k: 92 }; // S_i = S_SIT: adjusted price = raw price

function tpi(provider: string, price: string, volume: string, scores = AT_THRESHOLD): TpiProviderInput {
  return { provider, price, volume, ...scores };
}

function published<D extends ProviderDetailBase>(outcome: IndexOutcome<D>) {
  if (!outcome.ok) throw new Error(`expected a publication, got ${outcome.refusal.message}`);
  return outcome.publication;
}

describe('TPI', () => {
  it('one capped provider, capability adjustment, an unqualified provider excluded', () => {
    // A: 5000 / 10000 = 50% -> capped at 30%; the other 70% goes to B, C, D in proportion 2:2:1.
    // B: P = 3.00 · (245/3) / (255/3) = 49/17; D: P = 1.80 · 245/252 = 1.75.
    // TPI = 0.30·2.00 + 0.28·49/17 + 0.28·2.50 + 0.14·1.75 = 1.545 + 13.72/17 = 7997/3400 = 2.352058... -> 2.3521
    // E has volume 9000 but MMLU 85 < 86: not counted, so it neither gets weight nor dilutes the others.
    const p = published(
      computeTpi([
        tpi('A', '2.00', '5000'),
        tpi('B', '3.00', '2000', { mmlu: 90, humaneval: 70, gsm8k: 95 }),
        tpi('C', '2.50', '2000'),
        tpi('D', '1.80', '1000', { mmlu: 88, humaneval: 72, gsm8k: 92 }),
        tpi('E', '1.00', '9000', { mmlu: 85, humaneval: 80, gsm8k: 95 }),
      ]),
    );
    expect(p.value).toBe('2.3521');
    expect(p.valueE4).toBe(23521);
    expect(p.valueExact).toBe('7997/3400');
    expect(p.qualifiedCount).toBe(4);
    expect(p.providers.map((d) => [d.provider, d.qualified, d.adjustedPrice, d.weight, d.capped])).toEqual([
      ['A', true, '2.0000000000', '0.3000000000', true],
      ['B', true, '2.8823529412', '0.2800000000', false],
      ['C', true, '2.5000000000', '0.2800000000', false],
      ['D', true, '1.7500000000', '0.1400000000', false],
      ['E', false, null, '0.0000000000', false],
    ]);
    expect(p.providers[1]).toMatchObject({ adjustedPriceExact: '49/17', weightExact: '7/25', scoreMeanExact: '85', failedScores: [] });
    expect(p.providers[4]).toMatchObject({ failedScores: ['mmlu'], adjustedPriceExact: null, weightExact: '0' });
  });

  it('two capped providers, the second only after the first one’s excess is redistributed', () => {
    // Volumes 5000, 2800, 1000, 700, 500 (Σ 10000). Round 1: A = 50% -> capped; the remaining 70%
    // gives B 0.7·2800/5000 = 39.2% -> capped. Round 2: 40% left for C, D, E (Σ 2200):
    // C = 0.4·1000/2200 = 2/11, D = 0.4·700/2200 = 7/55, E = 0.4·500/2200 = 1/11. None above 30%.
    // E: P = 2.31 · 245/255 = 3773/1700. TPI = 0.6 + 0.66 + (2/11)·1.98 + (7/55)·2.10 + (1/11)·3773/1700
    //   = 1.62 + 0.2672727... + 0.2017647... = 7813/3740 = 2.0890374... -> 2.0890
    const p = published(
      computeTpi([
        tpi('A', '2.00', '5000'),
        tpi('B', '2.20', '2800'),
        tpi('C', '1.98', '1000'),
        tpi('D', '2.10', '700'),
        tpi('E', '2.31', '500', { mmlu: 90, humaneval: 70, gsm8k: 95 }),
      ]),
    );
    expect(p.value).toBe('2.0890');
    expect(p.valueE4).toBe(20890);
    expect(p.valueExact).toBe('7813/3740');
    expect(p.providers.map((d) => [d.weightExact, d.capped])).toEqual([
      ['3/10', true],
      ['3/10', true],
      ['2/11', false],
      ['7/55', false],
      ['1/11', false],
    ]);
    expect(p.providers[2].weight).toBe('0.1818181818');
    expect(p.providers[4].adjustedPrice).toBe('2.2194117647');
  });

  it('rounds an exact half up, where binary floating point would land just below it', () => {
    // Equal volumes: TPI is the mean, (1.15 + 2.20 + 0.70 + 0.2002) / 4 = 1.06255 exactly.
    // In doubles 0.25·1.15 + 0.25·2.2 + 0.25·0.7 + 0.25·0.2002 = 1.0625499999999999.
    const p = published(computeTpi([tpi('A', '1.15', '1'), tpi('B', '2.20', '1'), tpi('C', '0.70', '1'), tpi('D', '0.2002', '1')]));
    expect(p.valueExact).toBe('21251/20000');
    expect(p.value).toBe('1.0626');
  });

  it('a score equal to its threshold qualifies; one below does not', () => {
    const rows = [tpi('A', '2.00', '1'), tpi('B', '2.00', '1'), tpi('C', '2.00', '1'), tpi('D', '2.00', '1')];
    expect(published(computeTpi(rows)).qualifiedCount).toBe(4);
    const outcome = computeTpi([...rows.slice(0, 3), tpi('D', '2.00', '1', { mmlu: 86, humaneval: 66.9, gsm8k: 92 })]);
    expect(outcome).toEqual({
      ok: false,
      refusal: {
        index: 'TPI',
        code: 'TOO_FEW_PROVIDERS',
        qualifiedCount: 3,
        message: 'TPI not published: 3 qualified providers, at least 4 are needed to meet the 30% weight cap',
      },
    });
  });

  it('fewer than 4 qualified providers is refused, naming the count', () => {
    const outcome = computeTpi([
      tpi('A', '2.00', '5000'),
      tpi('B', '2.10', '4000', { mmlu: 80, humaneval: 70, gsm8k: 95 }),
      tpi('C', '2.20', '3000', { mmlu: 90, humaneval: 60, gsm8k: 95 }),
      tpi('D', '2.30', '2000'),
    ]);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.refusal.code).toBe('TOO_FEW_PROVIDERS');
    expect(outcome.refusal.qualifiedCount).toBe(2);
    expect(outcome.refusal.message).toContain('2 qualified providers');
    expect(computeTpi([])).toMatchObject({ ok: false, refusal: { code: 'TOO_FEW_PROVIDERS', qualifiedCount: 0 } });
  });

  it('refuses duplicate providers and malformed rows, naming them', () => {
    const four = [tpi('A', '2.00', '1'), tpi('B', '2.00', '1'), tpi('C', '2.00', '1'), tpi('D', '2.00', '1')];
    expect(computeTpi([...four, tpi(' B ', '2.50', '1')])).toEqual({
      ok: false,
      refusal: { index: 'TPI', code: 'DUPLICATE_PROVIDER', provider: 'B', message: 'provider "B" appears more than once' },
    });
    expect(computeTpi([...four, tpi('E', '2.5', '0')])).toMatchObject({
      ok: false,
      refusal: { code: 'INVALID_INPUT', provider: 'E', field: 'volume', row: 5 },
    });
    expect(computeTpi([...four, tpi('E', '1e2', '1')])).toMatchObject({ ok: false, refusal: { code: 'INVALID_INPUT', field: 'price' } });
    expect(computeTpi([...four, tpi('E', '-2.00', '1')])).toMatchObject({ ok: false, refusal: { code: 'INVALID_INPUT', field: 'price' } });
    expect(computeTpi([...four, tpi('', '2.00', '1')])).toMatchObject({ ok: false, refusal: { code: 'INVALID_INPUT', field: 'provider', row: 5 } });
    expect(computeTpi([...four, tpi('E', '2.00', '1', { mmlu: 101, humaneval: 70, gsm8k: 95 })])).toMatchObject({
      ok: false,
      refusal: { code: 'INVALID_INPUT', provider: 'E', field: 'mmlu' },
    });
  });

  it('accepts large volumes and decimal scores exactly', () => {
    // Scores 89.5/70.5/93.5 (S_i = 253.5/3): P = 2.535 · 245/253.5 = 2.45 exactly.
    const p = published(
      computeTpi([
        tpi('A', '2.535', '123456789012345678901', { mmlu: 89.5, humaneval: 70.5, gsm8k: 93.5 }),
        tpi('B', '2.45', '123456789012345678901'),
        tpi('C', '2.45', '123456789012345678901'),
        tpi('D', '2.45', '123456789012345678901'),
      ]),
    );
    expect(p.providers[0].adjustedPriceExact).toBe('49/20');
    expect(p.value).toBe('2.4500');
  });
});

describe('GCI', () => {
  const mixed: GciProviderInput[] = [
    { provider: 'X', gpu: 'H100-80GB-SXM', price: '3.00', volume: '3000' }, // 3.00 / 1.00 = 3.00
    { provider: 'Y', gpu: 'A100-80GB-SXM', price: '1.01', volume: '2000' }, // 1.01 / 0.32 = 3.15625
    { provider: 'Z', gpu: 'B200', price: '6.84', volume: '2000' }, // 6.84 / 2.28 = 3.00
    { provider: 'W', gpu: 'H100-PCIe', price: '2.28', volume: '2000' }, // 2.28 / 0.76 = 3.00
    { provider: 'V', gpu: 'L40S', price: '1.11', volume: '1000' }, // 1.11 / 0.37 = 3.00
  ];

  it('mixed GPUs: price per SCU by equivalence; a provider at exactly 30% is not capped', () => {
    // Weights 0.3, 0.2, 0.2, 0.2, 0.1 (none above 30%).
    // GCI = 0.3·3 + 0.2·3.15625 + 0.2·3 + 0.2·3 + 0.1·3 = 3.03125 -> half up -> 3.0313
    const p = published(computeGci(mixed));
    expect(p.index).toBe('GCI');
    expect(p.valueExact).toBe('97/32');
    expect(p.value).toBe('3.0313');
    expect(p.valueE4).toBe(30313);
    expect(p.providers.map((d) => [d.provider, d.gpu, d.equivalence, d.adjustedPrice, d.weight, d.capped])).toEqual([
      ['X', 'H100-80GB-SXM', '1.00', '3.0000000000', '0.3000000000', false],
      ['Y', 'A100-80GB-SXM', '0.32', '3.1562500000', '0.2000000000', false],
      ['Z', 'B200', '2.28', '3.0000000000', '0.2000000000', false],
      ['W', 'H100-PCIe', '0.76', '3.0000000000', '0.2000000000', false],
      ['V', 'L40S', '0.37', '3.0000000000', '0.1000000000', false],
    ]);
  });

  it('caps a dominant provider', () => {
    // X: 7000 of 13000 -> capped at 30%; Y, Z, W share 70% as 2:2:2 -> 7/30 each.
    // GCI = 0.3·3 + (7/30)·3.15625 + (7/30)·3 + (7/30)·3 = 0.9 + 0.7364583... + 1.4 = 3.0364583... -> 3.0365
    const p = published(computeGci([{ ...mixed[0], volume: '7000' }, ...mixed.slice(1, 4)]));
    expect(p.providers.map((d) => d.weightExact)).toEqual(['3/10', '7/30', '7/30', '7/30']);
    expect(p.providers[0].capped).toBe(true);
    expect(p.value).toBe('3.0365');
  });

  it('refuses an unknown GPU, naming it and the provider', () => {
    const outcome = computeGci([...mixed, { provider: 'U', gpu: 'MI300X', price: '2.50', volume: '100' }]);
    expect(outcome).toEqual({
      ok: false,
      refusal: {
        index: 'GCI',
        code: 'UNKNOWN_GPU',
        gpu: 'MI300X',
        provider: 'U',
        message: 'GPU "MI300X" (provider "U") is not in the equivalence table',
      },
    });
  });

  it('takes the equivalence table as configuration', () => {
    const table = { ...DEFAULT_GPU_EQUIVALENCE, MI300X: '1.25' };
    const p = published(computeGci([...mixed.slice(0, 3), { provider: 'U', gpu: 'MI300X', price: '3.75', volume: '3000' }], table));
    // Weights: X 3000, Y 2000, Z 2000, U 3000 of 10000 -> 0.3, 0.2, 0.2, 0.3; U: 3.75 / 1.25 = 3.00.
    // GCI = 0.9 + 0.63125 + 0.6 + 0.9 = 3.03125 -> 3.0313
    expect(p.providers[3]).toMatchObject({ equivalence: '1.25', adjustedPrice: '3.0000000000', weight: '0.3000000000' });
    expect(p.value).toBe('3.0313');
    expect(() => computeGci(mixed, { 'H100-80GB-SXM': '0' })).toThrow('must be a positive decimal string');
  });

  it('applies the same minimum and duplicate rules as the TPI', () => {
    expect(computeGci(mixed.slice(0, 3))).toMatchObject({ ok: false, refusal: { code: 'TOO_FEW_PROVIDERS', qualifiedCount: 3 } });
    expect(computeGci([...mixed, { ...mixed[1], gpu: 'H100-80GB-SXM' }])).toMatchObject({
      ok: false,
      refusal: { code: 'DUPLICATE_PROVIDER', provider: 'Y' },
    });
  });
});

describe('capWeights', () => {
  const volume = fc.bigInt({ min: 1n, max: 10n ** 15n }).map((v) => Fraction.of(v, 100n));

  it('weights sum to exactly 1, none exceeds 30%, capped ones are exactly 30%, the rest follow volume', () => {
    fc.assert(
      fc.property(fc.array(volume, { minLength: 4, maxLength: 25 }), (volumes) => {
        const { weights, capped } = capWeights(volumes);
        expect(Fraction.sum(weights).eq(Fraction.ONE)).toBe(true);
        for (const w of weights) expect(w.gt(INDEX_WEIGHT_CAP)).toBe(false);
        const free = volumes.map((v, i) => ({ v, w: weights[i], capped: capped[i] }));
        for (const f of free.filter((x) => x.capped)) expect(f.w.eq(INDEX_WEIGHT_CAP)).toBe(true);
        const uncapped = free.filter((x) => !x.capped);
        expect(uncapped.length).toBeGreaterThan(0);
        // Uncapped weights are proportional to volume: w_i / V_i is the same for all of them.
        const ratio = uncapped[0].w.div(uncapped[0].v);
        for (const u of uncapped) expect(u.w.div(u.v).eq(ratio)).toBe(true);
        // Only the largest volumes are capped.
        for (const c of free.filter((x) => x.capped)) for (const u of uncapped) expect(c.v.lt(u.v)).toBe(false);
      }),
    );
  });

  it('leaves uncapped volume shares alone and refuses fewer than 4 providers', () => {
    const { weights, capped } = capWeights(['1', '1', '1', '1'].map((v) => Fraction.parseDecimal(v)!));
    expect(weights.map(String)).toEqual(['1/4', '1/4', '1/4', '1/4']);
    expect(capped).toEqual([false, false, false, false]);
    expect(() => capWeights([Fraction.ONE, Fraction.ONE, Fraction.ONE])).toThrow('cannot be met by 3 providers');
    expect(() => capWeights([Fraction.ONE, Fraction.ONE, Fraction.ONE, Fraction.ZERO])).toThrow('positive');
  });

  it('an index lies between the lowest and highest adjusted price', () => {
    const row = fc.record({
      price: fc.integer({ min: 1, max: 100_000 }).map((c) => (c / 100).toFixed(2)),
      volume: fc.integer({ min: 1, max: 1_000_000 }).map(String),
      mmlu: fc.integer({ min: 86, max: 100 }),
      humaneval: fc.integer({ min: 67, max: 100 }),
      gsm8k: fc.integer({ min: 92, max: 100 }),
    });
    fc.assert(
      fc.property(fc.array(row, { minLength: 4, maxLength: 12 }), (rows) => {
        const p = published(computeTpi(rows.map((r, i) => ({ provider: `P${i}`, ...r }))));
        const prices = p.providers.map((d) => Fraction.parse(d.adjustedPriceExact!));
        const value = Fraction.parse(p.valueExact);
        const lowest = prices.reduce((a, b) => (b.lt(a) ? b : a));
        const highest = prices.reduce((a, b) => (b.gt(a) ? b : a));
        expect(value.lt(lowest)).toBe(false);
        expect(value.gt(highest)).toBe(false);
        expect(Fraction.sum(p.providers.map((d) => Fraction.parse(d.weightExact))).eq(Fraction.ONE)).toBe(true);
        expect(p.value).toBe(value.toFixed(4));
      }),
    );
  });
});

describe('finalSettlementTicks', () => {
  it('rounds the published index value half up to the tick', () => {
    expect(finalSettlementTicks('2.3521')).toBe(235);
    expect(finalSettlementTicks('2.3549')).toBe(235);
    expect(finalSettlementTicks('2.3550')).toBe(236);
    expect(finalSettlementTicks('3.0313')).toBe(303);
    expect(finalSettlementTicks('2.00')).toBe(200);
  });

  it('uses the product tick size (a 5-cent tick: 2.375 / 0.05 = 47.5 -> 48 ticks)', () => {
    expect(finalSettlementTicks('2.3750', 5)).toBe(48);
    expect(finalSettlementTicks('2.3749', 5)).toBe(47);
  });

  it('refuses a malformed value or one below half a tick', () => {
    expect(() => finalSettlementTicks('abc')).toThrow('not a decimal index value');
    expect(() => finalSettlementTicks('0.0049')).toThrow('rounds to 0 ticks');
  });
});
