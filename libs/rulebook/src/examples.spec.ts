/**
 * Golden files: every examples/<name>.jsonl runs through runScenario (SHA-256 state hash, as the CLI
 * `npm run scenario -- examples/<name>.jsonl` does) and must reproduce examples/<name>.report.json
 * exactly. Any change of behaviour shows up here; when a change is intended, regenerate the report
 * with the CLI and check the new figures by hand (examples/README.md gives the hand computations).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCents } from '@ch/domain';
import { runScenario } from './scenario';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const EXAMPLES = resolve(__dirname, '../../../examples');
const scenarios = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .map((f) => f.slice(0, -'.jsonl'.length));

describe('examples/*.jsonl reproduce their golden reports', () => {
  it('the examples folder holds the scenarios this suite knows about', () => {
    expect(scenarios).toEqual(expect.arrayContaining(['expiry', 'expiry-without-index', 'full-cycle', 'limit-up-day', 'two-day-margin-cycle']));
  });

  describe.each(scenarios)('%s', (name) => {
    const goldenPath = join(EXAMPLES, `${name}.report.json`);
    const run = () => runScenario(readFileSync(join(EXAMPLES, `${name}.jsonl`), 'utf8'), sha256);

    it('has a golden report', () => {
      expect(existsSync(goldenPath)).toBe(true);
    });

    it('gives exactly the golden report', () => {
      const golden = JSON.parse(readFileSync(goldenPath, 'utf8'));
      // Through JSON, as the CLI prints it (drops undefined fields).
      expect(JSON.parse(JSON.stringify(run().report))).toEqual(golden);
    });

    it('variation margin sums to zero per instrument and trade date, and cash is conserved', () => {
      const { report, rulebook } = run();
      const sums = new Map<string, number>();
      for (const v of report.variationMargin) {
        const k = `${v.tradeDate} ${v.instrument}`;
        sums.set(k, (sums.get(k) ?? 0) + parseCents(v.amount));
      }
      for (const [k, sum] of sums) expect([k, sum]).toEqual([k, 0]);
      const ledger = rulebook.ledgerState();
      const cash = Object.values(report.accounts).reduce((s, a) => s + BigInt(parseCents(a.cash)), 0n);
      expect(cash).toBe(BigInt(ledger.totalDeposits) - BigInt(ledger.totalWithdrawals));
    });
  });
});
