import {
  decimalAtMost,
  isBoundedPrice,
  isCashAmount,
  MAX_ACCOUNT_CASH_CENTS,
  MAX_CASH_AMOUNT_CENTS,
  MAX_CASH_AMOUNT_TEXT,
  MAX_PRICE_TEXT,
  MAX_PRICE_TICKS,
} from './bounds';
import { parseCents } from './money';

describe('bounds of amounts', () => {
  it('are far below 2^53 one by one, and their texts say the same', () => {
    expect(parseCents(MAX_CASH_AMOUNT_TEXT)).toBe(MAX_CASH_AMOUNT_CENTS);
    expect(parseCents(MAX_PRICE_TEXT)).toBe(MAX_PRICE_TICKS);
    expect(MAX_ACCOUNT_CASH_CENTS * 9 < Number.MAX_SAFE_INTEGER).toBe(true);
    expect(MAX_ACCOUNT_CASH_CENTS * 10 > Number.MAX_SAFE_INTEGER).toBe(true);
  });

  it('take amounts and prices up to the bound, not past it', () => {
    expect(isCashAmount(MAX_CASH_AMOUNT_CENTS)).toBe(true);
    expect(isCashAmount(MAX_CASH_AMOUNT_CENTS + 1)).toBe(false);
    expect(isCashAmount(0)).toBe(false);
    expect(isCashAmount(parseCents('50000000000000.00'))).toBe(false);
    expect(isBoundedPrice(MAX_PRICE_TICKS)).toBe(true);
    expect(isBoundedPrice(MAX_PRICE_TICKS + 1)).toBe(false);
    expect(isBoundedPrice(0.5)).toBe(false);
  });

  it('compare decimal strings exactly', () => {
    expect(decimalAtMost('100000', 100_000)).toBe(true);
    expect(decimalAtMost('100000.000', 100_000)).toBe(true);
    expect(decimalAtMost('100000.0001', 100_000)).toBe(false);
    expect(decimalAtMost('99999.999999', 100_000)).toBe(true);
    expect(decimalAtMost('1000000000000000000000', 100_000)).toBe(false);
    expect(decimalAtMost('1e3', 100_000)).toBe(false);
  });
});
