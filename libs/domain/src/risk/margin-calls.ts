/**
 * Margin calls (SPEC §6).
 *
 * End of day, after variation margin: equity < MM → call for IM − equity (back to initial, not to
 * maintenance). Intraday, after each trade: the same test at the new mark, at most once per account
 * per session. IM and MM here are the positions-only figures (open orders are a pre-trade concern).
 */

import type { Cents } from '../money';

export interface CallFigures {
  readonly equity: Cents;
  readonly im: Cents;
  readonly mm: Cents;
}

/** IM − equity when equity < MM, else null. The amount is always > 0 because IM ≥ MM > equity. */
export function marginCallAmount(f: CallFigures): Cents | null {
  return f.equity < f.mm ? f.im - f.equity : null;
}

/**
 * Remembers which accounts were called intraday in the current session. Plain data (a sorted list of
 * account ids) so it snapshots to JSON and replays identically.
 */
export class IntradayCallGate {
  private readonly called: Set<string>;

  constructor(calledThisSession: readonly string[] = []) {
    this.called = new Set(calledThisSession);
  }

  /**
   * Decides the intraday call for an account after a trade: the amount to call, or null when the
   * account is covered or was already called this session. A call is recorded as made.
   */
  decide(account: string, f: CallFigures): Cents | null {
    if (this.called.has(account)) return null;
    const amount = marginCallAmount(f);
    if (amount !== null) this.called.add(account);
    return amount;
  }

  hasCalled(account: string): boolean {
    return this.called.has(account);
  }

  /** At the session roll: every account may be called once again. */
  reset(): void {
    this.called.clear();
  }

  toJSON(): string[] {
    return [...this.called].sort();
  }
}
