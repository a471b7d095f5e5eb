/**
 * Token Price Index (TPI) and GPU Compute Index (GCI), and the final settlement price (SPEC §8,
 * paper §5.2 and §7.3).
 *
 * Both indices are a volume-weighted mean of per-provider prices brought to the standard unit
 * (capability-adjusted for the TPI, equivalence-adjusted for the GCI), with each provider's weight
 * capped at 30%. Every step is exact rational arithmetic (Fraction); the only rounding is the
 * published value's, to 4 decimals half up. Per-provider prices and weights are also reported
 * exactly (as "num/den") next to a 10-decimal display form, so an auditor can recompute the value.
 *
 * Refusals are returned, not thrown: index inputs are operations' ordinary input, and a refused
 * publication (SPEC §10 `errors`) changes nothing. The checks run in this order and the first that
 * fails is reported: each row's form (INVALID_INPUT), duplicate provider names
 * (DUPLICATE_PROVIDER), unknown GPUs (UNKNOWN_GPU, GCI only), and the number of qualified providers
 * (TOO_FEW_PROVIDERS).
 *
 * Decisions where SPEC is silent:
 * - Each provider appears at most once in a publication. Two rows with one name are refused rather
 *   than merged or weighted separately, because either would let one provider exceed the 30% cap
 *   or silently change its weight. (A GCI provider selling several GPU types therefore has to be
 *   published as one row by operations.) Names are compared exactly after trimming.
 * - Prices and volumes are plain decimal strings and must be > 0 (a zero volume has no weight and
 *   a zero price is not a market price); scores are numbers (or decimal strings) from 0 to 100.
 * - An unknown GPU refuses the whole publication (nothing is published), naming the GPU: leaving
 *   the row out would publish an index over a different set of providers than operations sent.
 * - A score equal to its threshold qualifies ("meets" the threshold). A weight equal to 30% is not
 *   capped; only weights above 30% are.
 */
import { type IndexName, type ProductSpec } from '../products';
import { type Ticks } from '../money';
import { Fraction } from './rational';

export interface TpiProviderInput {
  readonly provider: string;
  /** Raw price, USD per million tokens, decimal string. */
  readonly price: string;
  /** Volume (tokens or USD, the same unit for every provider of a publication), decimal string. */
  readonly volume: string;
  readonly mmlu: number | string;
  readonly humaneval: number | string;
  readonly gsm8k: number | string;
}

export interface GciProviderInput {
  readonly provider: string;
  readonly gpu: string;
  /** Raw price, USD per GPU-hour, decimal string. */
  readonly price: string;
  readonly volume: string;
}

export interface SitThresholds {
  readonly mmlu: number;
  readonly humaneval: number;
  readonly gsm8k: number;
}

/** The SIT benchmark (GPT-4-Turbo, January 2024). S_SIT is their mean, 245/3. */
export const SIT_THRESHOLDS: SitThresholds = { mmlu: 86, humaneval: 67, gsm8k: 92 };

/** Dense BF16 tensor throughput relative to the H100-80GB-SXM, two decimals (SPEC §8 default). */
export const DEFAULT_GPU_EQUIVALENCE: Readonly<Record<string, string>> = {
  'H100-80GB-SXM': '1.00',
  'H200-141GB-SXM': '1.00',
  'H100-PCIe': '0.76',
  'A100-80GB-SXM': '0.32',
  L40S: '0.37',
  B200: '2.28',
};

export const INDEX_WEIGHT_CAP = Fraction.of(3n, 10n);
/** Fewest providers with which a 30% cap can be met (3 x 30% < 100%). */
export const INDEX_MIN_PROVIDERS = 4;
export const INDEX_DECIMALS = 4;
/** Decimals of the display form of per-provider prices and weights (the exact form is alongside). */
export const INDEX_DETAIL_DECIMALS = 10;

export interface ProviderDetailBase {
  readonly provider: string;
  /** Counted in the index. */
  readonly qualified: boolean;
  readonly rawPrice: string;
  readonly volume: string;
  /** Price in the standard unit (USD per million SIT, USD per SCU), INDEX_DETAIL_DECIMALS half up; null when not qualified. */
  readonly adjustedPrice: string | null;
  readonly adjustedPriceExact: string | null;
  /** Final weight, INDEX_DETAIL_DECIMALS half up ("0.3000000000"); zero when not qualified. */
  readonly weight: string;
  readonly weightExact: string;
  /** True when the provider's volume share exceeded the cap and its weight was fixed at 30%. */
  readonly capped: boolean;
}

export interface TpiProviderDetail extends ProviderDetailBase {
  /** S_i, the mean of the three scores (exact). */
  readonly scoreMeanExact: string;
  /** Scores below their threshold; empty when qualified. */
  readonly failedScores: readonly ('mmlu' | 'humaneval' | 'gsm8k')[];
}

export interface GciProviderDetail extends ProviderDetailBase {
  readonly gpu: string;
  readonly equivalence: string;
}

export interface IndexPublication<D extends ProviderDetailBase> {
  readonly index: IndexName;
  /** Published value, USD, 4 decimals, rounded half up: "2.3521". */
  readonly value: string;
  /** The same value in units of 0.0001 USD: 23521. */
  readonly valueE4: number;
  /** Σ w_i·P_i before rounding, exact ("num/den"). */
  readonly valueExact: string;
  readonly qualifiedCount: number;
  /** One entry per input row, in input order. */
  readonly providers: readonly D[];
}

export type IndexRefusalCode = 'INVALID_INPUT' | 'DUPLICATE_PROVIDER' | 'UNKNOWN_GPU' | 'TOO_FEW_PROVIDERS';

export interface IndexRefusal {
  readonly index: IndexName;
  readonly code: IndexRefusalCode;
  readonly message: string;
  /** 1-based input row, for INVALID_INPUT. */
  readonly row?: number;
  readonly provider?: string;
  readonly field?: string;
  readonly gpu?: string;
  readonly qualifiedCount?: number;
}

export type IndexOutcome<D extends ProviderDetailBase> =
  { readonly ok: true; readonly publication: IndexPublication<D> } | { readonly ok: false; readonly refusal: IndexRefusal };

export interface CappedWeights {
  readonly weights: Fraction[];
  readonly capped: boolean[];
}

/**
 * Volume weights with a per-provider cap (SPEC §8): w_i = V_i / ΣV; every weight above the cap is
 * fixed at the cap and the remainder is shared among the others in proportion to volume, repeated
 * until none exceeds the cap. The weights sum to exactly 1. Needs positive volumes and
 * n · cap >= 1 (otherwise the cap cannot be met).
 */
export function capWeights(volumes: readonly Fraction[], cap: Fraction = INDEX_WEIGHT_CAP): CappedWeights {
  const n = volumes.length;
  if (volumes.some((v) => !v.isPositive())) throw new RangeError('capWeights: volumes must be positive');
  if (!cap.isPositive() || cap.mul(Fraction.of(n)).lt(Fraction.ONE)) {
    throw new RangeError(`capWeights: a cap of ${cap.toString()} cannot be met by ${n} providers`);
  }
  const capped = volumes.map(() => false);
  for (;;) {
    const cappedCount = capped.filter(Boolean).length;
    const remaining = Fraction.ONE.sub(cap.mul(Fraction.of(cappedCount)));
    const freeVolume = Fraction.sum(volumes.filter((_, i) => !capped[i]));
    const weights = volumes.map((v, i) => (capped[i] ? cap : remaining.mul(v).div(freeVolume)));
    const over = weights.map((w, i) => !capped[i] && w.gt(cap));
    // Capping all that exceed at once gives the same result as one at a time: redistribution only
    // raises the others' shares, so a provider over the cap now stays over it.
    if (!over.some(Boolean)) return { weights, capped };
    over.forEach((o, i) => {
      if (o) capped[i] = true;
    });
  }
}

/** Token Price Index from provider inputs (SPEC §8). */
export function computeTpi(inputs: readonly TpiProviderInput[], thresholds: SitThresholds = SIT_THRESHOLDS): IndexOutcome<TpiProviderDetail> {
  const index: IndexName = 'TPI';
  const rows = readRows(index, inputs);
  if (!rows.ok) return rows;
  const scoreNames = ['mmlu', 'humaneval', 'gsm8k'] as const;
  const threshold = scoreNames.map((s) => Fraction.fromNumber(thresholds[s]));
  const sSit = Fraction.sum(threshold).div(Fraction.of(3));

  const priced: (PricedRow & { mean: Fraction; failed: (typeof scoreNames)[number][] })[] = [];
  for (let i = 0; i < rows.value.length; i++) {
    const row = rows.value[i];
    const scores: Fraction[] = [];
    for (const name of scoreNames) {
      const s = readScore(inputs[i][name]);
      if (!s) return invalid(index, i, row.provider, name, 'score must be a number from 0 to 100');
      scores.push(s);
    }
    const failed = scoreNames.filter((_, k) => scores[k].lt(threshold[k]));
    const mean = Fraction.sum(scores).div(Fraction.of(3));
    const qualified = failed.length === 0;
    // P_i = raw_i · S_SIT / S_i; a qualified provider has S_i >= S_SIT > 0.
    priced.push({ ...row, qualified, adjusted: qualified ? row.price.mul(sSit).div(mean) : null, mean, failed });
  }
  const duplicate = findDuplicate(index, priced);
  if (duplicate) return duplicate;
  return publish(index, priced, (p) => ({ scoreMeanExact: p.mean.toString(), failedScores: p.failed }));
}

/** GPU Compute Index from provider inputs (SPEC §8); `equivalence` maps GPU name to factor (decimal string). */
export function computeGci(
  inputs: readonly GciProviderInput[],
  equivalence: Readonly<Record<string, string>> = DEFAULT_GPU_EQUIVALENCE,
): IndexOutcome<GciProviderDetail> {
  const index: IndexName = 'GCI';
  const factors = readEquivalenceTable(equivalence);
  const rows = readRows(index, inputs);
  if (!rows.ok) return rows;
  for (let i = 0; i < inputs.length; i++) {
    const gpu = inputs[i].gpu;
    if (typeof gpu !== 'string' || gpu.trim() === '') return invalid(index, i, rows.value[i].provider, 'gpu', 'gpu is required');
  }
  const duplicate = findDuplicate(index, rows.value);
  if (duplicate) return duplicate;
  for (let i = 0; i < inputs.length; i++) {
    const gpu = inputs[i].gpu.trim();
    if (!factors.has(gpu)) {
      const provider = rows.value[i].provider;
      return refuse(index, 'UNKNOWN_GPU', `GPU ${JSON.stringify(gpu)} (provider ${JSON.stringify(provider)}) is not in the equivalence table`, {
        provider,
        gpu,
      });
    }
  }
  const priced = rows.value.map((row, i) => {
    const gpu = inputs[i].gpu.trim();
    const factor = factors.get(gpu)!;
    return { ...row, qualified: true, adjusted: row.price.div(factor.value), gpu, equivalence: factor.text };
  });
  return publish(index, priced, (p) => ({ gpu: p.gpu, equivalence: p.equivalence }));
}

/**
 * Final settlement price in ticks from a published index value (SPEC §8): the value rounded half
 * up to the tick. `indexValue` is the published decimal string (e.g. "2.3550" -> 236 ticks of
 * 1 cent). Throws on a malformed value or one that rounds to less than one tick, which is not a
 * price: the caller's end of day then fails for that instrument and says why.
 */
export function finalSettlementTicks(indexValue: string, tickCents: ProductSpec['tickCents'] = 1): Ticks {
  const value = Fraction.parseDecimal(indexValue);
  if (!value) throw new RangeError(`finalSettlementTicks: not a decimal index value: ${JSON.stringify(indexValue)}`);
  if (!Number.isSafeInteger(tickCents) || tickCents <= 0) throw new RangeError(`tickCents must be a positive integer: ${tickCents}`);
  // value (USD) / (tickCents / 100 USD) ticks, rounded half up to an integer.
  const ticks = value.mul(Fraction.of(100n, BigInt(tickCents))).roundHalfUp(0);
  if (ticks < 1n) throw new RangeError(`finalSettlementTicks: index value ${indexValue} rounds to ${ticks} ticks`);
  if (ticks > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`finalSettlementTicks: ${indexValue} is out of range`);
  return Number(ticks);
}

// ---------------------------------------------------------------------------------------------

interface Row {
  readonly provider: string;
  readonly price: Fraction;
  readonly rawPrice: string;
  readonly volume: Fraction;
  readonly rawVolume: string;
}

interface PricedRow extends Row {
  readonly qualified: boolean;
  readonly adjusted: Fraction | null;
}

type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: IndexRefusal };

/** Form checks common to both indices: provider name, price, volume. */
type RowInput = { provider: string; price: string; volume: string };

function readRows(index: IndexName, inputs: readonly RowInput[]): Result<Row[]> {
  if (!Array.isArray(inputs)) return refuse(index, 'INVALID_INPUT', 'providers must be a list');
  const list: readonly RowInput[] = inputs; // Array.isArray narrows a readonly array to any[]
  const rows: Row[] = [];
  for (let i = 0; i < list.length; i++) {
    const input = list[i];
    const provider = typeof input?.provider === 'string' ? input.provider.trim() : '';
    if (provider === '') return invalid(index, i, '', 'provider', 'provider name is required');
    const price = Fraction.parseDecimal(input.price);
    if (!price || !price.isPositive()) return invalid(index, i, provider, 'price', 'price must be a positive decimal string');
    const volume = Fraction.parseDecimal(input.volume);
    if (!volume || !volume.isPositive()) return invalid(index, i, provider, 'volume', 'volume must be a positive decimal string');
    rows.push({ provider, price, rawPrice: input.price.trim(), volume, rawVolume: input.volume.trim() });
  }
  return { ok: true, value: rows };
}

function findDuplicate(index: IndexName, rows: readonly Row[]): { ok: false; refusal: IndexRefusal } | null {
  const seen = new Set<string>();
  for (const row of rows) {
    if (seen.has(row.provider)) {
      return refuse(index, 'DUPLICATE_PROVIDER', `provider ${JSON.stringify(row.provider)} appears more than once`, {
        provider: row.provider,
      });
    }
    seen.add(row.provider);
  }
  return null;
}

function publish<P extends PricedRow, X extends object>(index: IndexName, rows: readonly P[], extra: (row: P) => X): IndexOutcome<ProviderDetailBase & X> {
  const included = rows.filter((r) => r.qualified);
  if (included.length < INDEX_MIN_PROVIDERS) {
    return refuse(
      index,
      'TOO_FEW_PROVIDERS',
      `${index} not published: ${included.length} qualified provider${included.length === 1 ? '' : 's'}, ` +
        `at least ${INDEX_MIN_PROVIDERS} are needed to meet the 30% weight cap`,
      { qualifiedCount: included.length },
    );
  }
  const { weights, capped } = capWeights(included.map((r) => r.volume));
  const value = Fraction.sum(included.map((r, k) => weights[k].mul(r.adjusted!)));
  const valueE4 = value.roundHalfUp(INDEX_DECIMALS);
  if (valueE4 > BigInt(Number.MAX_SAFE_INTEGER)) {
    return refuse(index, 'INVALID_INPUT', `${index} value ${value.toFixed(INDEX_DECIMALS)} is out of range`);
  }
  const providers = rows.map((r) => {
    const k = included.indexOf(r);
    const weight = k >= 0 ? weights[k] : Fraction.ZERO;
    return {
      provider: r.provider,
      qualified: r.qualified,
      rawPrice: r.rawPrice,
      volume: r.rawVolume,
      adjustedPrice: r.adjusted ? r.adjusted.toFixed(INDEX_DETAIL_DECIMALS) : null,
      adjustedPriceExact: r.adjusted ? r.adjusted.toString() : null,
      weight: weight.toFixed(INDEX_DETAIL_DECIMALS),
      weightExact: weight.toString(),
      capped: k >= 0 && capped[k],
      ...extra(r),
    };
  });
  return {
    ok: true,
    publication: {
      index,
      value: Fraction.of(valueE4, 10n ** BigInt(INDEX_DECIMALS)).toFixed(INDEX_DECIMALS),
      valueE4: Number(valueE4),
      valueExact: value.toString(),
      qualifiedCount: included.length,
      providers,
    },
  };
}

function readScore(score: unknown): Fraction | null {
  let f: Fraction | null = null;
  if (typeof score === 'number') f = Number.isFinite(score) ? Fraction.fromNumber(score) : null;
  else if (typeof score === 'string') f = Fraction.parseDecimal(score);
  if (!f || f.lt(Fraction.ZERO) || f.gt(Fraction.of(100))) return null;
  return f;
}

/** A malformed table is a configuration error, not an input error: it throws. */
function readEquivalenceTable(table: Readonly<Record<string, string>>): Map<string, { value: Fraction; text: string }> {
  const out = new Map<string, { value: Fraction; text: string }>();
  for (const [gpu, text] of Object.entries(table)) {
    const value = Fraction.parseDecimal(text);
    if (!value || !value.isPositive()) throw new RangeError(`GPU equivalence for ${gpu} must be a positive decimal string: ${JSON.stringify(text)}`);
    out.set(gpu, { value, text });
  }
  return out;
}

function refuse(
  index: IndexName,
  code: IndexRefusalCode,
  message: string,
  extra: Omit<IndexRefusal, 'index' | 'code' | 'message'> = {},
): { ok: false; refusal: IndexRefusal } {
  return { ok: false, refusal: { index, code, message, ...extra } };
}

/** `i` is the 0-based row; messages and `row` count from 1 as a person reading the publication would. */
function invalid(index: IndexName, i: number, provider: string, field: string, message: string): { ok: false; refusal: IndexRefusal } {
  const who = provider ? `provider ${JSON.stringify(provider)} (row ${i + 1})` : `row ${i + 1}`;
  return refuse(index, 'INVALID_INPUT', `${who}: ${message}`, { row: i + 1, ...(provider ? { provider } : {}), field });
}
