import { IntradayCallGate, marginCallAmount } from './margin-calls';

describe('margin call decision (SPEC §6)', () => {
  it('calls for IM − equity when equity < MM (back to initial)', () => {
    expect(marginCallAmount({ equity: 160, im: 214, mm: 161 })).toBe(54);
    expect(marginCallAmount({ equity: 161, im: 214, mm: 161 })).toBeNull();
    expect(marginCallAmount({ equity: -40, im: 0, mm: 0 })).toBe(40);
    expect(marginCallAmount({ equity: 0, im: 0, mm: 0 })).toBeNull();
  });

  it('intraday: at most once per account per session, again after the session roll', () => {
    const gate = new IntradayCallGate();
    expect(gate.decide('A', { equity: 214, im: 214, mm: 161 })).toBeNull();
    expect(gate.hasCalled('A')).toBe(false);
    expect(gate.decide('A', { equity: 150, im: 214, mm: 161 })).toBe(64);
    expect(gate.decide('A', { equity: 100, im: 214, mm: 161 })).toBeNull();
    expect(gate.decide('B', { equity: 100, im: 214, mm: 161 })).toBe(114);
    expect(gate.toJSON()).toEqual(['A', 'B']);
    const restored = new IntradayCallGate(gate.toJSON());
    expect(restored.decide('A', { equity: 0, im: 214, mm: 161 })).toBeNull();
    gate.reset();
    expect(gate.decide('A', { equity: 100, im: 214, mm: 161 })).toBe(114);
  });
});
