/**
 * End of day from the command line (SPEC §7, docs/decisions/0006-end-of-day.md), through the API:
 *
 *   eod run --date YYYY-MM-DD [--override SYMBOL=PRICE:REASON ...] [--at ISO-INSTANT] [--timeout SECONDS]
 *   eod status --date YYYY-MM-DD
 *
 * `run` posts POST /ops/eod and prints progress (instruments settled, accounts restated) until the
 * day is completed (exit 0), completed with failures (exit 2) or the timeout passes (exit 3). A
 * refused run (a trade date after the current session's, a re-run with other overrides: ADR 0014)
 * prints the reason and exits 1. `--at` sends the cut-off's event time (`x-event-time`), honoured
 * only by a rehearsal deployment (CH_ALLOW_EVENT_TIME=1, ADR 0004).
 * API (default http://127.0.0.1:3000) and OPS_API_KEY (default: the contents of .run/ops-api-key,
 * written by `npm run up`) say where and as whom.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Progress {
  tradeDate: string;
  status: string;
  instrumentsTotal: number;
  instrumentsSettled: number;
  accountsDone: number;
  accountsWithVariationMargin: number;
  settlements: {
    instrument: string;
    price: string;
    previousPrice: string;
    method: string;
    reason?: string;
    variationMarginPosted: boolean;
    marginRestated: boolean;
  }[];
  failures: { instrument: string; code: string; message: string }[];
}

const USAGE =
  'usage: eod run --date YYYY-MM-DD [--override SYMBOL=PRICE:REASON ...] [--at ISO-INSTANT] [--timeout SECONDS]\n       eod status --date YYYY-MM-DD';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

export function parseArgs(argv: string[]): {
  command: string;
  date: string;
  overrides: Record<string, { price: string; reason: string }>;
  timeoutS: number;
  at?: string;
} {
  const [command, ...rest] = argv;
  if (command !== 'run' && command !== 'status') fail(USAGE);
  let date = '';
  let timeoutS = 600;
  let at: string | undefined;
  const overrides: Record<string, { price: string; reason: string }> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => rest[++i] ?? fail(`${a} needs a value\n${USAGE}`);
    if (a === '--date') date = value();
    else if (a === '--timeout') timeoutS = Number(value());
    else if (a === '--at') at = value();
    else if (a === '--override') {
      const v = value();
      const m = /^([^=]+)=([0-9]+(?:\.[0-9]+)?):(.+)$/.exec(v);
      if (!m) fail(`--override must be SYMBOL=PRICE:REASON, got ${v}`);
      overrides[m[1]] = { price: m[2], reason: m[3] };
    } else fail(`unknown argument ${a}\n${USAGE}`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) fail(`--date YYYY-MM-DD is required\n${USAGE}`);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) fail('--timeout must be a positive number of seconds');
  return { command, date, overrides, timeoutS, ...(at === undefined ? {} : { at }) };
}

function opsKey(): string {
  if (process.env.OPS_API_KEY) return process.env.OPS_API_KEY.trim();
  const file = join(__dirname, '..', '..', '.run', 'ops-api-key');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fail(`no OPS_API_KEY and no ${file} (start the system with npm run up, or set OPS_API_KEY)`);
  }
}

async function api<T>(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  let r: Response;
  try {
    r = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': key, ...extraHeaders, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return fail(`cannot reach the API at ${base} (${String((e as Error).cause ?? e)}); set API=http://host:port`);
  }
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed as T };
}

function line(p: Progress): string {
  return `${p.tradeDate} ${p.status}: instruments ${p.instrumentsSettled}/${p.instrumentsTotal} settled, accounts ${p.accountsDone} restated, ${p.accountsWithVariationMargin} with variation margin${p.failures.length ? `, ${p.failures.length} failed` : ''}`;
}

function summary(p: Progress): string {
  const rows = p.settlements.map(
    (s) =>
      `  ${s.instrument} ${s.previousPrice} → ${s.price} (${s.method}${s.reason ? `: ${s.reason}` : ''})${s.variationMarginPosted ? '' : ' VM pending'}${s.marginRestated ? '' : ' margin pending'}`,
  );
  const failures = p.failures.map((f) => `  ${f.instrument} FAILED ${f.code}: ${f.message}`);
  return [...rows, ...failures].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const base = (process.env.API ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
  const key = opsKey();
  if (args.command === 'status') {
    const r = await api<Progress>(base, key, 'GET', `/ops/eod/${args.date}`);
    if (r.status !== 200) fail(`GET /ops/eod/${args.date}: ${r.status} ${JSON.stringify(r.body)}`);
    process.stdout.write(`${line(r.body)}\n${summary(r.body)}\n`);
    return;
  }
  const started = Date.now();
  const post = await api<{ runId: string; instruments: string[] }>(
    base,
    key,
    'POST',
    '/ops/eod',
    { tradeDate: args.date, overrides: args.overrides },
    args.at === undefined ? {} : { 'x-event-time': args.at },
  );
  if (post.status !== 202) {
    const refusal = post.body as unknown as { error?: string; message?: string; details?: { code?: string } };
    if (post.status < 500 && typeof refusal?.message === 'string') fail(`${refusal.message} (${post.status} ${refusal.details?.code ?? refusal.error})`);
    fail(`POST /ops/eod: ${post.status} ${JSON.stringify(post.body)}`);
  }
  process.stdout.write(
    `end of day ${args.date} started (run ${post.body.runId}): ${post.body.instruments.length} instruments${Object.keys(args.overrides).length ? `, overrides ${Object.keys(args.overrides).join(', ')}` : ''}\n`,
  );
  let last = '';
  for (;;) {
    const r = await api<Progress>(base, key, 'GET', `/ops/eod/${args.date}`);
    if (r.status !== 200) fail(`GET /ops/eod/${args.date}: ${r.status} ${JSON.stringify(r.body)}`);
    const l = line(r.body);
    if (l !== last) process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${l}\n`);
    last = l;
    if (r.body.status !== 'running') {
      process.stdout.write(`${summary(r.body)}\n`);
      process.exit(r.body.status === 'completed' ? 0 : 2);
    }
    if (Date.now() - started > args.timeoutS * 1000) fail(`still running after ${args.timeoutS}s`, 3);
    await new Promise((res) => setTimeout(res, 250));
  }
}

if (require.main === module) main().catch((e) => fail(String(e instanceof Error ? e.stack : e)));
