/**
 * `npm run scenario -- --live <file.jsonl>`: feeds a SPEC §10 scenario through the RUNNING services'
 * HTTP API, each command at its line's event time, and prints the same §10 report, built from the
 * services' state (docs/operations.md, "Rehearsing a scenario against the running services").
 *
 *  - The services must run with CH_ALLOW_EVENT_TIME=1 (docs/decisions/0004-event-time-facility.md):
 *    the lines' times travel in the operations-only `x-event-time` header. Checked before anything is
 *    sent: a deposit with a malformed `x-event-time` for an account that does not exist is refused
 *    400 on the header when the facility is on, and 404 on the account when it is off (the header
 *    is then ignored), and changes nothing either way.
 *  - The system must be fresh (an empty event log): the report's balances and state hash are the
 *    whole system's, and equal the in-process run only when the scenario is all that happened.
 *  - Each line is sent once the services have caught up with the one before (the outcome is in the
 *    log, clearing has cleared every trade, risk has restated every touched account: see
 *    DownstreamWatch), as the in-process rulebook executes a line after the one before.
 *  - The report: the lists from the event log (GET /audit/export, the auditor API; operations keys
 *    may read it) folded by the same reportLists as the in-process run; the accounts from the API's
 *    projections (cash, margin, positions); the state hash from the auditor's replay
 *    (GET /audit/compare, once the replay and every projection agree, which is also the final wait
 *    for quiescence).
 *
 * Configuration: CH_API_URL (default http://127.0.0.1:3000, where `npm start` serves the API) and
 * the operations key from CH_OPS_KEY, else OPS_API_KEY, else .run/ops-api-key (written by `npm start`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accountEntry,
  DownstreamWatch,
  endOfDayErrors,
  eventTimeHeader,
  liveReportLists,
  loggedRejection,
  outcomeLogged,
  parseScenarioLines,
  refusalOf,
  refusalOutcome,
  reportedFact,
  requestFor,
  sequencedAt,
  type LiveRecord,
  type RulebookEvent,
  type ScenarioCommand,
  type ScenarioReport,
} from '@ch/rulebook';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

export interface LiveOptions {
  /** The API (order-intake). Default: CH_API_URL, else http://127.0.0.1:3000. */
  readonly url?: string;
  /** An operations key. Default: CH_OPS_KEY, else OPS_API_KEY, else the contents of .run/ops-api-key. */
  readonly opsKey?: string;
  /** Run against a system whose log is not empty (the report then covers more than the scenario). */
  readonly allowUsedSystem?: boolean;
  /** How long to wait for the services to catch up with one line, and for the final quiescence. Default 60 s. */
  readonly timeoutMs?: number;
  /** Progress and warnings (default: none). */
  readonly log?: (message: string) => void;
}

export interface LiveRun {
  readonly report: ScenarioReport;
  /**
   * What may make the report differ from the in-process run without being wrong: a command the
   * services stamped later than its line's time (its stream's clock was already later), a replay
   * that does not agree with the projections.
   */
  readonly warnings: string[];
}

/** The services cannot run the scenario (not running, refusing the key, not honouring event time). */
export class LiveScenarioError extends Error {}

interface HttpAnswer {
  status: number;
  body: any;
  text: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PROBE_ACCOUNT = 'scenario-live-probe--no-such-account';

export function defaultOpsKey(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CH_OPS_KEY ?? env.OPS_API_KEY;
  if (fromEnv && fromEnv.trim()) return fromEnv.trim();
  // dist/scripts/ at run time, scripts/ under ts-jest: the repository root is one or two levels up.
  for (const root of [join(__dirname, '..', '..'), join(__dirname, '..')]) {
    try {
      const key = readFileSync(join(root, '.run', 'ops-api-key'), 'utf8').trim();
      if (key) return key;
    } catch {
      /* try the next */
    }
  }
  throw new LiveScenarioError('no operations key: set CH_OPS_KEY (or OPS_API_KEY), or start the services with `npm start`, which writes .run/ops-api-key');
}

class Api {
  constructor(
    readonly url: string,
    private readonly opsKey: string,
  ) {}

  async call(method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    let r: Response;
    try {
      r = await fetch(this.url + path, {
        method,
        headers: { ...headers, ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new LiveScenarioError(
        `cannot reach the services at ${this.url} (${cause?.code ?? cause?.message ?? (e as Error).message}): start them with \`CH_ALLOW_EVENT_TIME=1 npm start\`, or set CH_API_URL`,
      );
    }
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON (the export is JSON Lines) */
    }
    return { status: r.status, body: parsed, text };
  }

  ops(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer> {
    return this.call(method, path, this.opsKey, body, headers);
  }

  /** The log from `fromSeq` on, as the auditor exports it. */
  async records(fromSeq: number): Promise<LiveRecord[]> {
    const r = await this.ops('GET', `/audit/export?fromSeq=${fromSeq}`);
    if (r.status !== 200) throw new LiveScenarioError(`reading the event log (GET /audit/export) answered ${r.status}: ${r.text.slice(0, 300)}`);
    const out: LiveRecord[] = [];
    for (const line of r.text.split('\n')) {
      if (line.trim() === '') continue;
      const e = JSON.parse(line) as LiveRecord;
      out.push({ seq: Number(e.seq), type: e.type, stream: e.stream, at: String(e.at), payload: e.payload });
    }
    return out;
  }
}

/**
 * Runs the scenario text through the running services and returns the §10 report built from their
 * state. Throws LiveScenarioError when the services cannot run it (not reachable, the key refused,
 * x-event-time not honoured, a used system, the services not catching up in time).
 */
export async function runLiveScenario(text: string, options: LiveOptions = {}): Promise<LiveRun> {
  const api = new Api((options.url ?? process.env.CH_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, ''), options.opsKey ?? defaultOpsKey());
  const timeoutMs = options.timeoutMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    log(`warning: ${m}`);
  };

  // Every line is parsed first: a malformed line is an error and nothing of it is sent.
  const errors: { line: number; message: string }[] = [];
  const commands: { line: number; command: ScenarioCommand }[] = [];
  for (const entry of parseScenarioLines(text)) {
    if ('message' in entry) errors.push(entry);
    else commands.push(entry);
  }

  await preflight(api);
  const verify = await api.ops('GET', '/audit/verify');
  if (verify.status !== 200 || verify.body?.ok !== true)
    throw new LiveScenarioError(`the event log does not verify (GET /audit/verify: ${verify.status} ${verify.text.slice(0, 300)})`);
  const head = Number(verify.body.lastSeq ?? 0);
  if (head > 0 && !options.allowUsedSystem) {
    throw new LiveScenarioError(
      `the services' event log already holds ${head} events: run the scenario on a fresh system (its own database and topic prefix, e.g. DATABASE_URL=.../rehearsal TOPIC_PREFIX=rehearsal CH_ALLOW_EVENT_TIME=1 npm start), or pass --allow-used-system`,
    );
  }
  if (head > 0) warn(`the log already held ${head} events: the lists cover this run only, but the state hash covers the whole system`);

  let nextSeq = head + 1;
  const watch = new DownstreamWatch();
  const tail = async (): Promise<LiveRecord[]> => {
    const fresh = await api.records(nextSeq);
    for (const r of fresh) {
      watch.observe(r);
      nextSeq = r.seq + 1;
    }
    return fresh;
  };

  const memberKeys = new Map<string, string>();
  const accounts: string[] = [];
  const lineEvents: RulebookEvent[][] = [];
  const orderIds = new Set<string>();

  for (const { line, command: c } of commands) {
    const req = requestFor(c);
    const header = eventTimeHeader(c);
    const events: RulebookEvent[] = [];
    lineEvents.push(events);
    let key: string | null = null;
    if ('account' in req.key) {
      key = memberKeys.get(req.key.account) ?? null;
      if (key === null) {
        errors.push({
          line,
          message: `unknown account ${req.key.account}: no member line of this scenario admitted it, so there is no member key to send the ${c.cmd} with`,
        });
        continue;
      }
    }
    log(`line ${line}: ${c.cmd} at ${header}`);
    const sentAt = Date.now();
    const answer =
      key === null
        ? await api.ops(req.method, req.path, req.body, { 'x-event-time': header })
        : await api.call(req.method, req.path, key, req.body, { 'x-event-time': header });
    if (answer.status >= 500 || answer.status === 401 || answer.status === 429) {
      throw new LiveScenarioError(`line ${line} (${c.cmd}): the API answered ${answer.status}: ${answer.text.slice(0, 500)}`);
    }
    if (Date.now() - sentAt > 2000) log(`line ${line}: the API answered ${answer.status} after ${Date.now() - sentAt} ms`);
    const accepted = answer.status < 400;
    const repeat = c.cmd === 'order' && orderIds.has(`${c.account}\u0000${c.clientOrderId}`);
    if (c.cmd === 'order') orderIds.add(`${c.account}\u0000${c.clientOrderId}`);
    if (accepted && c.cmd === 'member') {
      for (const a of c.accounts) {
        memberKeys.set(a, String(answer.body.apiKey));
        accounts.push(a);
      }
    }

    // The line's facts: everything logged until the services have caught up with it.
    const records: LiveRecord[] = [];
    const caughtUp = async () => {
      const until = Date.now() + timeoutMs;
      let nextReport = Date.now() + 5000;
      for (;;) {
        records.push(...(await tail()));
        const owed = [...watch.pending(), ...(accepted && !outcomeLogged(c, records, repeat) ? [`the outcome of the ${c.cmd} is not in the log yet`] : [])];
        if (owed.length === 0) return;
        if (Date.now() > until)
          throw new LiveScenarioError(`line ${line} (${c.cmd}): the services did not catch up within ${timeoutMs} ms: ${owed.join('; ')}`);
        if (Date.now() > nextReport) {
          log(`line ${line}: waiting for ${owed.join('; ')}`);
          nextReport = Date.now() + 5000;
        }
        await sleep(25);
      }
    };
    let progress: Record<string, any> | null = null;
    if (c.cmd === 'eod' && accepted) progress = await endOfDayDone(api, c.tradeDate, tail, records, line, timeoutMs);
    await caughtUp();

    for (const r of records) {
      const fact = reportedFact(r);
      if (fact) events.push(fact);
    }
    if (progress) {
      const settled = events.filter((e) => e.type === 'SettlementPriceSet').length;
      for (const message of endOfDayErrors(progress, settled)) errors.push({ line, message });
    }
    if (!accepted && !loggedRejection(c, events)) {
      const outcome = refusalOutcome(c, refusalOf(answer.status, answer.body));
      if ('rejection' in outcome) events.push(outcome.rejection);
      else errors.push({ line, message: outcome.error });
    }

    // Event time (the facility itself was checked up front): a command stamped later than its
    // line's time means its stream's clock had already moved past it.
    const stamped = sequencedAt(c, records);
    if (stamped !== null && Date.parse(stamped) !== c.at) {
      warn(
        `line ${line}: the services stamped the ${c.cmd} at ${stamped}, not at the line's ${header} (its stream's clock was already later, e.g. services started with MATCHING_HALT_TIMERS=on ended a past halt at once); what follows may differ from the in-process run`,
      );
    }
  }

  // Quiescence: the auditor's replay of the whole log equals every projection. Its state hash is the
  // report's (the same canonical state as the in-process run's stateHash).
  const comparison = await quiet(api, timeoutMs);
  // Anything logged after the last line's wait belongs to it.
  for (const r of await tail()) {
    const fact = reportedFact(r);
    if (fact && lineEvents.length) lineEvents[lineEvents.length - 1].push(fact);
  }
  if (!comparison.ok) {
    warn(
      `the auditor's replay does not agree with the services' projections: ${JSON.stringify({ differences: comparison.differences, divergences: comparison.divergences }).slice(0, 2000)}`,
    );
  }

  const figures: ScenarioReport['accounts'] = {};
  for (const account of [...accounts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const path = `/accounts/${encodeURIComponent(account)}`;
    const [cash, margin, positions] = await Promise.all([
      api.ops('GET', `${path}/cash`),
      api.ops('GET', `${path}/margin`),
      api.ops('GET', `${path}/positions`),
    ]);
    for (const r of [cash, margin, positions])
      if (r.status !== 200) throw new LiveScenarioError(`reading ${account}'s figures answered ${r.status}: ${r.text.slice(0, 300)}`);
    figures[account] = accountEntry(cash.body, margin.body, positions.body);
  }
  errors.sort((a, b) => a.line - b.line);
  return { report: { ...liveReportLists(lineEvents), accounts: figures, errors, stateHash: String(comparison.stateHash) }, warnings };
}

/** The services answer, accept the key, and honour x-event-time (a probe that changes nothing). */
async function preflight(api: Api): Promise<void> {
  const health = await api.call('GET', '/health', null);
  if (health.status !== 200)
    throw new LiveScenarioError(`the services at ${api.url} are not ready (GET /health answered ${health.status}: ${health.text.slice(0, 300)})`);
  const probe = await api.ops('POST', '/ops/deposits', { account: PROBE_ACCOUNT, amount: '0.01' }, { 'x-event-time': 'not-a-time' });
  if (probe.status === 401 || probe.status === 403)
    throw new LiveScenarioError(`the services refuse the operations key (${probe.status}): set CH_OPS_KEY to the key the services were started with`);
  if (probe.status === 400 && probe.body?.field === 'x-event-time') return;
  if (probe.status === 404) {
    throw new LiveScenarioError(
      `the services at ${api.url} do not honour x-event-time, so the scenario's times cannot be used: start them with CH_ALLOW_EVENT_TIME=1 (operations rehearsals and tests only; docs/decisions/0004-event-time-facility.md)`,
    );
  }
  throw new LiveScenarioError(`unexpected answer to the event-time probe: ${probe.status} ${probe.text.slice(0, 300)}`);
}

/**
 * Waits for an end-of-day run: GET /ops/eod/{date} leaves `running` once every run's cut-off has
 * reached each of its instruments' sequencers and every instrument is settled (variation margin
 * posted, margin restated, the day completed) or has failed. Returns that progress.
 */
async function endOfDayDone(
  api: Api,
  tradeDate: string,
  tail: () => Promise<LiveRecord[]>,
  records: LiveRecord[],
  line: number,
  timeoutMs: number,
): Promise<Record<string, any>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    records.push(...(await tail()));
    const r = await api.ops('GET', `/ops/eod/${tradeDate}`);
    if (r.status === 200 && r.body.status !== 'running') return r.body as Record<string, any>;
    if (Date.now() > until)
      throw new LiveScenarioError(
        `line ${line} (eod ${tradeDate}): the end of day did not complete within ${timeoutMs} ms (${r.status} ${r.text.slice(0, 500)})`,
      );
    await sleep(100);
  }
}

/** GET /audit/compare until the replay and the projections agree (or the time is up: the last answer). */
async function quiet(api: Api, timeoutMs: number): Promise<Record<string, any>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.ops('GET', '/audit/compare');
    if (r.status !== 200) throw new LiveScenarioError(`GET /audit/compare answered ${r.status}: ${r.text.slice(0, 300)}`);
    if (r.body.ok === true || Date.now() > until) return r.body;
    await sleep(200);
  }
}
