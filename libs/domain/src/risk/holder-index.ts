/**
 * The ledger's index of who holds what, for the intraday call test (derived state, never
 * snapshotted): per instrument, every account with a position record in it, sorted by account id,
 * each entry carrying the band of marks within which the account cannot be called (see
 * ClearingLedger.safeBands). Every trade walks its instrument's entries; an account whose band
 * still holds and takes in the new mark is passed over with two comparisons instead of a margin
 * computation.
 *
 * A band is valid while its entry's epoch equals its account's: anything other than a mark that
 * moves an account's equity or requirements (a fill, cash) bumps the account's epoch, and
 * settlement or a listing rebuilds the whole index.
 */

export interface HolderEntry {
  readonly account: string;
  readonly instrument: string;
  readonly watch: AccountWatch;
  /** The account's epoch when lo/hi were set; −1 for never. */
  epoch: number;
  /** Marks in ticks, inclusive, within which the account passes the intraday test. */
  lo: number;
  hi: number;
}

export interface AccountWatch {
  readonly account: string;
  epoch: number;
  /** The account's entries, one per instrument it has a position record in. */
  readonly entries: HolderEntry[];
}

const byAccount = (a: HolderEntry, b: HolderEntry): number => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0);

export class HolderIndex {
  private readonly watches = new Map<string, AccountWatch>();
  private readonly byInstrument = new Map<string, HolderEntry[]>();
  private built = false;

  /**
   * `positionsOf` lists the ledger's accounts (sorted) with the instruments each has a position
   * record in; read only to (re)build the index.
   */
  constructor(private readonly positionsOf: () => Iterable<readonly [string, readonly string[]]>) {}

  /** The holders of an instrument, sorted by account id. */
  holders(instrument: string): readonly HolderEntry[] {
    if (!this.built) this.build(this.positionsOf());
    return this.byInstrument.get(instrument) ?? [];
  }

  /** A position record was created: the account now holds the instrument (and its bands are void). */
  added(account: string, instrument: string): void {
    if (!this.built) return; // the next build sees it
    const watch = this.watchOf(account);
    const entry: HolderEntry = { account, instrument, watch, epoch: -1, lo: 0, hi: 0 };
    watch.entries.push(entry);
    watch.epoch++;
    let list = this.byInstrument.get(instrument);
    if (list === undefined) this.byInstrument.set(instrument, (list = []));
    // Binary search for the insertion point: accounts arrive in any order.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byAccount(list[mid], entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, entry);
  }

  /** The account's equity or requirements moved other than by a mark: its bands no longer hold. */
  invalidate(account: string): void {
    const watch = this.watches.get(account);
    if (watch !== undefined) watch.epoch++;
  }

  /** Positions were closed or parameters moved: rebuild on next use, every band void. */
  reset(): void {
    this.built = false;
    this.watches.clear();
    this.byInstrument.clear();
  }

  private watchOf(account: string): AccountWatch {
    let watch = this.watches.get(account);
    if (watch === undefined) this.watches.set(account, (watch = { account, epoch: 0, entries: [] }));
    return watch;
  }

  private build(positions: Iterable<readonly [string, readonly string[]]>): void {
    this.watches.clear();
    this.byInstrument.clear();
    for (const [account, instruments] of positions) {
      for (const instrument of instruments) {
        const watch = this.watchOf(account);
        const entry: HolderEntry = { account, instrument, watch, epoch: -1, lo: 0, hi: 0 };
        watch.entries.push(entry);
        let list = this.byInstrument.get(instrument);
        if (list === undefined) this.byInstrument.set(instrument, (list = []));
        list.push(entry); // accounts come sorted, so each list is too
      }
    }
    this.built = true;
  }
}
