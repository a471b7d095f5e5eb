/**
 * npm run bench:e2e — orders through the HTTP API at a sustained rate, against the running system
 * (`npm start` first). Prints orders/s accepted, trades/s, and p50/p99 latency from HTTP acceptance
 * to the position update being visible.
 *
 * Method: an open-loop generator sends BENCH_RATE orders/s (default 5000) for BENCH_SECONDS
 * (default 60) over keep-alive connections, half passive GTC limits at the touch and half IOC
 * limits that cross them, from BENCH_ACCOUNTS accounts (default 20) it creates. A trade's position
 * update is visible when clearing has committed it: clearing writes the trade register and the
 * positions in one transaction, so a poller reads new trades every BENCH_POLL_MS (default 5 ms)
 * and times each trade from the moment its aggressor order was accepted (its HTTP 202 arrived).
 * The poll interval bounds the resolution (±BENCH_POLL_MS/2).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { listedContracts, SIT } from '@ch/domain';
import { openDataSource, sql } from '@ch/persistence';

const API = process.env.BENCH_API ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 20);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 5);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.env.BENCH_SOCKETS ?? 64) });

function request(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      API + path,
      { method, agent, headers: { 'x-api-key': key, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* keep text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const ops = process.env.OPS_API_KEY ?? readFileSync(join(process.cwd(), '.run', 'ops-api-key'), 'utf8').trim();
  const run = randomBytes(3).toString('hex');
  const symbol = process.env.BENCH_SYMBOL ?? listedContracts(SIT, new Date().toISOString().slice(0, 10))[1];

  // Set-up: members with one account each, funded; the instrument listed (or already listed).
  const keys: { account: string; key: string }[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const member = `B${run}M${i}`;
    const r = await request('POST', '/ops/members', ops, { memberId: member, accounts: [`${member}-A`] });
    if (r.status !== 201) throw new Error(`admitting ${member}: ${r.status} ${JSON.stringify(r.body)}`);
    keys.push({ account: `${member}-A`, key: r.body.apiKey });
    const d = await request('POST', '/ops/deposits?wait=true', ops, { account: `${member}-A`, amount: '100000000.00' });
    if (d.status !== 202) throw new Error(`deposit: ${d.status} ${JSON.stringify(d.body)}`);
  }
  const listed = await request('POST', '/ops/instruments', ops, { symbol, referencePrice: '2.00' });
  if (listed.status !== 201 && listed.status !== 409) throw new Error(`listing ${symbol}: ${listed.status} ${JSON.stringify(listed.body)}`);
  const market = await request('GET', `/instruments/${symbol}`, ops);
  const ref = market.status === 200 && market.body.referencePrice ? Math.round(Number(market.body.referencePrice) * 100) : 200;

  const ds = await openDataSource(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/clearinghouse', { poolSize: 2 });
  const startTrade = Number((await sql<{ m: string | null }>(ds, 'SELECT max(trade_id) AS m FROM trades WHERE instrument = $1', [symbol])).rows[0].m ?? 0);

  const acceptedAt = new Map<string, number>();
  const latencies: number[] = [];
  let accepted = 0;
  let rejected = 0;
  let failed = 0;
  let sent = 0;
  const statusCounts = new Map<number, number>();
  let lastTrade = startTrade;
  let trades = 0;
  let polling = true;

  const poller = (async () => {
    while (polling) {
      const r = await sql<{
        trade_id: string;
        aggressor: string;
        buy_account: string;
        sell_account: string;
        buy_client_order_id: string;
        sell_client_order_id: string;
      }>(
        ds,
        'SELECT trade_id, aggressor, buy_account, sell_account, buy_client_order_id, sell_client_order_id FROM trades WHERE instrument = $1 AND trade_id > $2 ORDER BY trade_id',
        [symbol, lastTrade],
      );
      const now = performance.now();
      for (const t of r.rows) {
        lastTrade = Math.max(lastTrade, Number(t.trade_id));
        trades++;
        const k = t.aggressor === 'buy' ? `${t.buy_account}|${t.buy_client_order_id}` : `${t.sell_account}|${t.sell_client_order_id}`;
        const at = acceptedAt.get(k);
        if (at !== undefined) latencies.push(now - at);
      }
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  })();

  // Open loop: every 10 ms, send what the rate asks for, whatever is still in flight.
  const t0 = performance.now();
  const inflight = new Set<Promise<void>>();
  let seq = 0;
  const tickMs = 10;
  const end = t0 + SECONDS * 1000;
  const price = (ticks: number) => (ticks / 100).toFixed(2);
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    while (sent < due) {
      const n = seq++;
      const who = keys[n % keys.length];
      // Pairs: a passive GTC at the touch, then an IOC from another account that crosses it.
      const passive = n % 2 === 0;
      const side = (n >> 1) % 2 === 0 ? 'sell' : 'buy';
      const s = passive ? side : side === 'sell' ? 'buy' : 'sell';
      const clientOrderId = `${run}-${n}`;
      const body = {
        account: who.account,
        clientOrderId,
        instrument: symbol,
        side: s,
        type: 'limit',
        price: price(ref),
        qty: 1 + (n % 5),
        tif: passive ? 'GTC' : 'IOC',
      };
      sent++;
      const p = request('POST', '/orders', who.key, body).then(
        (r) => {
          statusCounts.set(r.status, (statusCounts.get(r.status) ?? 0) + 1);
          if (r.status === 202) {
            accepted++;
            acceptedAt.set(`${who.account}|${clientOrderId}`, performance.now());
          } else rejected++;
        },
        () => {
          failed++;
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((res) => setTimeout(res, tickMs));
  }
  const sendSeconds = (performance.now() - t0) / 1000;
  await Promise.all(inflight);
  // Drain: wait until trades stop arriving.
  let stable = 0;
  let seen = trades;
  while (stable < 20) {
    await new Promise((res) => setTimeout(res, 100));
    if (trades === seen) stable++;
    else {
      stable = 0;
      seen = trades;
    }
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  polling = false;
  await poller;
  await ds.destroy();
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const f = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
  console.log(`bench:e2e against ${API}, ${symbol}, ${ACCOUNTS} accounts, target ${f(RATE)} orders/s for ${SECONDS} s`);
  console.log(`  orders sent:      ${f(sent)} in ${f(sendSeconds)} s (${f(sent / sendSeconds)}/s)`);
  console.log(
    `  orders accepted:  ${f(accepted)} (${f(accepted / sendSeconds)}/s); rejected ${rejected}; transport errors ${failed}; statuses ${JSON.stringify(Object.fromEntries(statusCounts))}`,
  );
  console.log(
    `  trades:           ${f(trades)} (${f(trades / sendSeconds)}/s over the send window; last trade ${f(totalSeconds - sendSeconds)} s after the last send)`,
  );
  console.log(`  latency, HTTP 202 of the aggressor -> trade and positions committed by clearing (n=${latencies.length}, poll ${POLL_MS} ms):`);
  console.log(
    `    p50 ${f(percentile(latencies, 50))} ms   p99 ${f(percentile(latencies, 99))} ms   p99.9 ${f(percentile(latencies, 99.9))} ms   max ${f(latencies[latencies.length - 1] ?? NaN)} ms`,
  );
  const ok = accepted / sendSeconds >= 5000 && percentile(latencies, 99) < 100;
  console.log(`  target (>= 5,000 orders/s sustained, p99 < 100 ms): ${ok ? 'MET' : 'NOT MET'}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
