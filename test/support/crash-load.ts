/**
 * Order load for crash tests (test/end-of-day-crash.int-spec.ts, scripts/crash-campaign.ts): pairs
 * of crossing one-to-three-lot limit orders between different accounts at prices around the
 * reference, sent a few pairs at a time while services, the broker or Postgres are killed. A request
 * that gets no answer (intake down) or a 5xx (a dependency down) is sent again, the same order with
 * the same clientOrderId, until it is answered: an exact retry creates nothing (risk keeps each
 * account's clientOrderIds), so every order ends with one answer and at most one outcome. Then
 * `checkOutcomes` says whether every order that intake took (202) has exactly one outcome in the log
 * and whether nothing was doubled.
 * No jest here: the crash campaign script runs it outside jest.
 */
import { Client } from 'pg';
import type { System } from './system';

export interface LoadAccount {
  readonly account: string;
  readonly key: string;
}

export interface OrderLoadOptions {
  readonly accounts: readonly LoadAccount[];
  readonly instruments: readonly string[];
  /** Prices in ticks (cents) the pairs cycle through. */
  readonly pricesTicks: readonly number[];
  /** Pairs in flight at once (default 4). */
  readonly pairsAtOnce?: number;
  /** Pause between waves, ms (default 25). */
  readonly pauseMs?: number;
  /** With CH_ALLOW_EVENT_TIME=1: the event time of the next order (x-event-time), else none. */
  readonly eventTime?: () => string | undefined;
  /** Prefix of the clientOrderIds (default "o"). */
  readonly prefix?: string;
}

export interface OrderLoad {
  /** Orders intake answered 202, as `account/clientOrderId`. */
  readonly accepted: Set<string>;
  /** Orders intake refused (4xx), with the reason. */
  readonly refused: Map<string, string>;
  /** Requests sent again after no answer or a 5xx. */
  retries: number;
  /** Waits for the wave in flight and holds the next one until `resume`. */
  pause(): Promise<void>;
  resume(): void;
  /** Stops after the wave in flight, which is answered (retried until then). */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startOrderLoad(sys: System, opts: OrderLoadOptions): OrderLoad {
  const accepted = new Set<string>();
  const refused = new Map<string, string>();
  const pairs = opts.pairsAtOnce ?? 4;
  const prefix = opts.prefix ?? 'o';
  let n = 0;
  let stopping = false;
  let paused = null as Promise<void> | null; // set by pause(), which control flow does not see
  let release: (() => void) | null = null;
  let waveDone: Promise<void> = Promise.resolve();
  const load: OrderLoad = {
    accepted,
    refused,
    retries: 0,
    async pause() {
      if (!paused) paused = new Promise<void>((r) => (release = r));
      await waveDone;
    },
    resume() {
      release?.();
      paused = null;
      release = null;
    },
    async stop() {
      stopping = true;
      load.resume();
      await running;
    },
  };

  async function send(a: LoadAccount, body: Record<string, unknown>): Promise<void> {
    const id = `${a.account}/${String(body.clientOrderId)}`;
    for (;;) {
      const at = opts.eventTime?.();
      let status = 0;
      let answer: { error?: string } = {};
      try {
        const r = await sys.api('POST', '/orders', { key: a.key, body, ...(at ? { headers: { 'x-event-time': at } } : {}) });
        status = r.status;
        answer = (r.body ?? {}) as { error?: string };
      } catch {
        status = 0; // no answer: intake is down
      }
      if (status === 202) {
        accepted.add(id);
        return;
      }
      if (status >= 400 && status < 500 && status !== 429) {
        refused.set(id, answer.error ?? String(status));
        return;
      }
      load.retries++;
      await sleep(200);
    }
  }

  const running = (async () => {
    while (!stopping) {
      if (paused) await paused;
      if (stopping) break;
      const wave: Promise<void>[] = [];
      for (let i = 0; i < pairs; i++) {
        const k = n++;
        const accounts = opts.accounts;
        const seller = accounts[k % accounts.length];
        const buyer = accounts[(k + 1 + (Math.floor(k / accounts.length) % (accounts.length - 1))) % accounts.length];
        const instrument = opts.instruments[k % opts.instruments.length];
        const price = (opts.pricesTicks[Math.floor(k / 2) % opts.pricesTicks.length] / 100).toFixed(2);
        const qty = 1 + (k % 3);
        const order = (side: string, id: string) => ({
          account: side === 'sell' ? seller.account : buyer.account,
          clientOrderId: id,
          instrument,
          side,
          type: 'limit',
          price,
          qty,
          tif: 'GTC',
        });
        wave.push(
          (async () => {
            await send(seller, order('sell', `${prefix}${k}s`));
            await send(buyer, order('buy', `${prefix}${k}b`));
          })(),
        );
      }
      waveDone = Promise.all(wave).then(() => undefined);
      await waveDone;
      await sleep(opts.pauseMs ?? 25);
    }
  })();
  return load;
}

export interface OutcomeCheck {
  /** Accepted orders with no OrderAccepted / OrderRejected in the log. */
  readonly withoutOutcome: string[];
  /** Orders with more than one outcome (accepted twice, or accepted and rejected). */
  readonly doubled: string[];
  /** Trades novated more than once, or printed and not novated. */
  readonly tradesNotClearedOnce: number;
  /** Per instrument, the sum of the positions (must be 0). */
  readonly positionSums: Record<string, number>;
  readonly trades: number;
  readonly outcomes: number;
}

/** What the log and the projections say about the orders intake accepted. */
export async function checkOutcomes(databaseUrl: string, accepted: Iterable<string>): Promise<OutcomeCheck> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const outcomes = await c.query<{ id: string; n: string }>(
      `SELECT payload->>'account' || '/' || (payload->>'clientOrderId') AS id, count(*) AS n FROM event_log
        WHERE type = 'OrderAccepted' OR (type = 'OrderRejected' AND payload->>'command' = 'new') GROUP BY 1`,
    );
    const count = new Map(outcomes.rows.map((r) => [r.id, Number(r.n)]));
    const withoutOutcome = [...accepted].filter((id) => !count.has(id)).sort();
    const doubled = [...count]
      .filter(([, n]) => n > 1)
      .map(([id]) => id)
      .sort();
    const trades = await c.query<{ n: string; cleared: string; distinct_cleared: string }>(
      `SELECT (SELECT count(*) FROM event_log WHERE type = 'Trade') AS n,
              (SELECT count(*) FROM event_log WHERE type = 'TradeCleared') AS cleared,
              (SELECT count(DISTINCT (payload->>'instrument', payload->>'tradeId')) FROM event_log WHERE type = 'TradeCleared') AS distinct_cleared`,
    );
    const t = trades.rows[0];
    const sums = await c.query<{ instrument: string; s: string }>('SELECT instrument, sum(qty) AS s FROM positions GROUP BY instrument ORDER BY instrument');
    return {
      withoutOutcome,
      doubled,
      tradesNotClearedOnce: Math.abs(Number(t.n) - Number(t.cleared)) + (Number(t.cleared) - Number(t.distinct_cleared)),
      positionSums: Object.fromEntries(sums.rows.map((r) => [r.instrument, Number(r.s)])),
      trades: Number(t.n),
      outcomes: count.size,
    };
  } finally {
    await c.end();
  }
}
