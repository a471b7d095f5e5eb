import fc from 'fast-check';
import { SCU, SIT } from '../products';
import { ClearingLedger } from './ledger';

const INSTRUMENTS = [
  { symbol: 'SIT-2027-03', product: SIT, listing: 200 },
  { symbol: 'SCU-2027-03', product: SCU, listing: 305 },
] as const;

type Op =
  | { kind: 'trade'; instr: number; buyer: number; sellerOffset: number; qty: number; price: number }
  | { kind: 'deposit'; account: number; amount: number }
  | { kind: 'withdraw'; account: number; amount: number };

const op = (accounts: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('trade' as const), instr: fc.integer({ min: 0, max: 1 }), buyer: fc.integer({ min: 0, max: accounts - 1 }), sellerOffset: fc.integer({ min: 1, max: accounts - 1 }), qty: fc.integer({ min: 1, max: 500 }), price: fc.integer({ min: 50, max: 600 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deposit' as const), account: fc.integer({ min: 0, max: accounts - 1 }), amount: fc.integer({ min: 1, max: 5_000_000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), account: fc.integer({ min: 0, max: accounts - 1 }), amount: fc.integer({ min: 1, max: 2_000_000 }) }) },
  );

const scenario = fc.integer({ min: 2, max: 5 }).chain((accounts) =>
  fc.record({
    accounts: fc.constant(accounts),
    opening: fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: accounts, maxLength: accounts }),
    days: fc.array(
      fc.record({ ops: fc.array(op(accounts), { maxLength: 25 }), settle: fc.tuple(fc.integer({ min: 50, max: 600 }), fc.integer({ min: 50, max: 600 })) }),
      { minLength: 1, maxLength: 5 },
    ),
  }),
);

describe('ClearingLedger properties (SPEC §7.2)', () => {
  it('VM sums to zero per instrument, matches the formula per account, and cash is conserved', () => {
    fc.assert(
      fc.property(scenario, ({ accounts, opening, days }) => {
        const ids = Array.from({ length: accounts }, (_, i) => `M${i}`);
        const l = new ClearingLedger();
        ids.forEach((id) => l.openAccount(id));
        INSTRUMENTS.forEach((i) => l.listInstrument(i.symbol, i.product, i.listing));

        // An independent model of positions and money, kept by the test.
        let netDeposits = 0;
        const model = new Map<string, { carried: number; fills: { qty: number; price: number }[] }>();
        const key = (a: string, s: string) => `${a}|${s}`;
        const ref: number[] = INSTRUMENTS.map((i) => i.listing);

        opening.forEach((amount, i) => {
          if (amount > 0) {
            l.deposit(ids[i], amount);
            netDeposits += amount;
          }
        });

        days.forEach((day, d) => {
          for (const o of day.ops) {
            if (o.kind === 'deposit') {
              l.deposit(ids[o.account], o.amount);
              netDeposits += o.amount;
            } else if (o.kind === 'withdraw') {
              if (l.withdraw(ids[o.account], o.amount).accepted) netDeposits -= o.amount;
            } else {
              const { symbol } = INSTRUMENTS[o.instr];
              const buyer = ids[o.buyer];
              const seller = ids[(o.buyer + o.sellerOffset) % accounts];
              l.addOpenOrder(buyer, symbol, 'buy', o.qty);
              l.addOpenOrder(seller, symbol, 'sell', o.qty);
              l.applyTrade({ instrument: symbol, priceTicks: o.price, qty: o.qty, buyAccount: buyer, sellAccount: seller });
              for (const [acct, q] of [[buyer, o.qty], [seller, -o.qty]] as const) {
                const m = model.get(key(acct, symbol)) ?? { carried: 0, fills: [] };
                m.fills.push({ qty: q, price: o.price });
                model.set(key(acct, symbol), m);
              }
            }
            expect(l.totalCash()).toBe(netDeposits);
          }

          const tradeDate = `2027-01-${String(d + 10)}`;
          const result = l.endOfDay(tradeDate, {
            [INSTRUMENTS[0].symbol]: { priceTicks: day.settle[0], method: 'vwap' },
            [INSTRUMENTS[1].symbol]: { priceTicks: day.settle[1], method: 'vwap' },
          });

          INSTRUMENTS.forEach((inst, k) => {
            const postings = result.postings.filter((p) => p.instrument === inst.symbol);
            // exactly zero per instrument
            expect(postings.reduce((s, p) => s + p.amount, 0)).toBe(0);
            // one posting per account with a position or a fill, each equal to the formula
            const expected: [string, number][] = [];
            for (const id of ids) {
              const m = model.get(key(id, inst.symbol));
              if (!m || (m.carried === 0 && m.fills.length === 0)) continue;
              const S = day.settle[k];
              let vm = m.carried * (S - ref[k]) * inst.product.multiplier;
              for (const f of m.fills) vm += f.qty * (S - f.price) * inst.product.multiplier;
              expected.push([id, vm + 0]); // + 0 turns the model's −0 into 0 (the ledger computes in bigint: never −0)
              m.carried += m.fills.reduce((s, f) => s + f.qty, 0);
              m.fills = [];
            }
            expect(postings.map((p) => [p.account, p.amount])).toEqual(expected);
            // positions net to zero across accounts
            expect(ids.reduce((s, id) => s + l.position(id, inst.symbol), 0)).toBe(0);
            ref[k] = day.settle[k];
          });

          // cash is conserved when VM is posted: deposits − withdrawals = Σ cash
          expect(l.totalCash()).toBe(netDeposits);
          expect(l.totals.deposits - l.totals.withdrawals).toBe(netDeposits);
          // after settlement, equity is cash (mark = reference = S_t)
          for (const id of ids) expect(l.equity(id)).toBe(l.account(id).cash);
        });
      }),
      { numRuns: 300, seed: 20270104 },
    );
  });
});
