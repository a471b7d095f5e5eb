/**
 * Product definitions as data (SPEC §2). Adding a product is adding an entry here (or loading one
 * of the same shape from configuration): no rule anywhere switches on a product code.
 */

export type IndexName = 'TPI' | 'GCI';

export interface ProductSpec {
  /** Symbol prefix: instruments are `${code}-YYYY-MM`. */
  readonly code: string;
  readonly name: string;
  readonly underlying: string;
  /** Units of the underlying in one lot. */
  readonly lotSize: number;
  readonly lotUnit: string;
  readonly quoteCurrency: 'USD';
  readonly quoteUnit: string;
  /** Tick size in cents of price. */
  readonly tickCents: number;
  /** USD per lot per $1 of price; equivalently cents of P&L per lot per cent of price. */
  readonly multiplier: number;
  readonly settlementIndex: IndexName;
  /** Annualised volatility used until 20 daily returns exist, as a decimal string. */
  readonly defaultVolatility: string;
  readonly positionLimits: { readonly allMonths: number; readonly spotMonth: number };
  readonly calendar: {
    readonly consecutiveMonths: number;
    readonly quarterlyMonths: number;
    /** Months (1-12) that count as quarterly. */
    readonly quarterlyCycle: readonly number[];
    /** Last trading day rule; the only one defined is the third Wednesday of the contract month. */
    readonly lastTradingDay: 'third-wednesday';
  };
}

export const SIT: ProductSpec = {
  code: 'SIT',
  name: 'SIT futures (token futures)',
  underlying: 'Standard Inference Token: one inference token from a model meeting MMLU >= 86%, HumanEval >= 67%, GSM8K >= 92%',
  lotSize: 1_000_000,
  lotUnit: 'SIT',
  quoteCurrency: 'USD',
  quoteUnit: 'USD per million SIT',
  tickCents: 1,
  multiplier: 1,
  settlementIndex: 'TPI',
  defaultVolatility: '0.40',
  positionLimits: { allMonths: 10_000_000, spotMonth: 2_500_000 },
  calendar: { consecutiveMonths: 6, quarterlyMonths: 4, quarterlyCycle: [3, 6, 9, 12], lastTradingDay: 'third-wednesday' },
};

export const SCU: ProductSpec = {
  code: 'SCU',
  name: 'SCU futures (GPU compute futures)',
  underlying: 'Standard Compute Unit: one hour of one H100-80GB-SXM GPU; other GPUs convert by their equivalence factor',
  lotSize: 100,
  lotUnit: 'SCU',
  quoteCurrency: 'USD',
  quoteUnit: 'USD per SCU',
  tickCents: 1,
  multiplier: 100,
  settlementIndex: 'GCI',
  defaultVolatility: '0.40',
  positionLimits: { allMonths: 50_000, spotMonth: 10_000 },
  calendar: { consecutiveMonths: 6, quarterlyMonths: 4, quarterlyCycle: [3, 6, 9, 12], lastTradingDay: 'third-wednesday' },
};

export const DEFAULT_PRODUCTS: readonly ProductSpec[] = [SIT, SCU];

export interface InstrumentSymbol {
  readonly product: string;
  readonly year: number;
  readonly month: number;
  readonly symbol: string;
}

const SYMBOL = /^([A-Z][A-Z0-9]{1,9})-(\d{4})-(0[1-9]|1[0-2])$/;

/** "SIT-2027-03" -> { product: 'SIT', year: 2027, month: 3 }; null when malformed. */
export function parseSymbol(symbol: string): InstrumentSymbol | null {
  const m = SYMBOL.exec(symbol);
  if (!m) return null;
  return { product: m[1], year: Number(m[2]), month: Number(m[3]), symbol };
}

export function formatSymbol(product: string, year: number, month: number): string {
  return `${product}-${year}-${String(month).padStart(2, '0')}`;
}

export class ProductCatalog {
  private readonly byCode: Map<string, ProductSpec>;
  constructor(products: readonly ProductSpec[] = DEFAULT_PRODUCTS) {
    this.byCode = new Map(products.map((p) => [p.code, p]));
  }
  get(code: string): ProductSpec | undefined {
    return this.byCode.get(code);
  }
  forSymbol(symbol: string): ProductSpec | undefined {
    const s = parseSymbol(symbol);
    return s ? this.byCode.get(s.product) : undefined;
  }
  all(): ProductSpec[] {
    return [...this.byCode.values()];
  }
}
