/**
 * Variation margin (SPEC §7.2): per account and instrument,
 *   q_prev · (S_t − S_prev) · multiplier + Σ fills signed qty · (S_t − fill price) · multiplier
 * in cents (prices in ticks × tickCents). Every trade is two fills of opposite sign at the same price
 * and every carried position came from such trades, so over all accounts it sums to exactly zero.
 */

import type { Cents, Ticks } from '../money';
import { positionPnl, type ContractTerms, type PositionDay } from './equity';

export function variationMargin(position: PositionDay, previousSettlementTicks: Ticks, settlementTicks: Ticks, terms: ContractTerms): Cents {
  return positionPnl(position, previousSettlementTicks, settlementTicks, terms);
}
