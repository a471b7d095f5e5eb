/**
 * Feeds SPEC §10 scenario commands through the running services' API, each with its own event
 * time (`x-event-time`; the system must run with CH_ALLOW_EVENT_TIME=1). Tests use it to run the
 * same command list through the services and through the in-process rulebook and compare; it is
 * the seed of `npm run scenario -- --live`.
 */
import { admitMember, type System } from './system';

export type ScenarioCmd = Record<string, unknown> & { at: string; cmd: string };

export interface ScenarioDriver {
  /** The API key of the member that owns `account` (known once its `member` command ran). */
  keyOf(account: string): string;
  /** Runs a member, deposit, list or order command; false for any other command. */
  drive(c: ScenarioCmd): Promise<boolean>;
}

export function scenarioDriver(system: () => System): ScenarioDriver {
  const keyByAccount: Record<string, string> = {};
  const keyOf = (account: string): string => {
    const key = keyByAccount[account];
    if (!key) throw new Error(`no member admitted for account ${account}`);
    return key;
  };
  return {
    keyOf,
    async drive(c) {
      const sys = system();
      const headers = { 'x-event-time': c.at };
      switch (c.cmd) {
        case 'member': {
          const key = await admitMember(sys, String(c.member), c.accounts as string[]);
          for (const a of c.accounts as string[]) keyByAccount[a] = key;
          return true;
        }
        case 'deposit': {
          const r = await sys.api('POST', '/ops/deposits?wait=true', { key: sys.opsKey, headers, body: { account: c.account, amount: c.amount } });
          expect(r.body.status).toBe('posted');
          return true;
        }
        case 'list': {
          const r = await sys.api('POST', '/ops/instruments', { key: sys.opsKey, headers, body: { symbol: c.instrument, referencePrice: c.referencePrice } });
          expect(r.body.status).toBe('listed');
          return true;
        }
        case 'order': {
          const { at: _at, cmd: _cmd, ...body } = c;
          const r = await sys.api('POST', '/orders?wait=true', { key: keyOf(String(c.account)), headers, body });
          expect({ order: c.clientOrderId, status: r.status, body: r.body.status }).toEqual({
            order: c.clientOrderId,
            status: 202,
            body: expect.stringMatching(/open|filled/),
          });
          return true;
        }
        default:
          return false;
      }
    },
  };
}
