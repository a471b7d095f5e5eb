import { actionOf } from './dispatch';

describe("clearing's dispatch", () => {
  it('novates trades, settles and closes at the end of day, moves cash, and ignores the rest', () => {
    expect(['Trade', 'SettlementPriceSet', 'ContractExpired', 'Deposit', 'Withdrawal'].map(actionOf)).toEqual(['novate', 'settle', 'close', 'cash', 'cash']);
    expect(['OrderAccepted', 'MarketHalted', 'InstrumentListed', 'EndOfDayFailed'].map(actionOf)).toEqual(['ignore', 'ignore', 'ignore', 'ignore']);
  });

  it('ignores a type it does not know, including the names of an object’s own properties', () => {
    expect(['Nonsense', 'toString', '__proto__', 'constructor', 'hasOwnProperty'].map(actionOf)).toEqual(['ignore', 'ignore', 'ignore', 'ignore', 'ignore']);
  });
});
