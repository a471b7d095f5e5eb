/**
 * End of day through the services (SPEC §7, docs/decisions/0006-end-of-day.md).
 *
 * POST /ops/eod publishes a `Cutoff` command per listed instrument on matching-commands (key =
 * instrument): the cut-off is sequenced in the instrument's own stream, so every trade belongs to
 * exactly one session. Matching sets the settlement price and rolls the session; clearing posts
 * variation margin; risk settles its replica, restates margin and issues calls. Each step is
 * idempotent, so running the same trade date again changes nothing. A trade date after the
 * current session's, or a re-run with other overrides than the run that settled the date, is
 * refused before anything is recorded (docs/decisions/0014-end-of-day-guards.md). GET
 * /ops/eod/{tradeDate} reports the progress read from the log and the projections, and writes nothing.
 */
import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import {
  checkEndOfDayRerun,
  checkOverrideInstrument,
  checkEndOfDayTradeDate,
  formatTicks,
  isBoundedPrice,
  MAX_PRICE_TEXT,
  parsePriceToTicks,
  ProductCatalog,
  takesPartInEndOfDay,
  type EarlierEndOfDay,
  type EndOfDayOverride,
} from '@ch/domain';
import { sql } from '@ch/persistence';
import { CurrentPrincipal, DomainRejection, Roles, API_KEY_SECURITY_NAME, type Principal } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { CommandPublisher } from './commands';
import { EndOfDayDto } from './dto';
import { EVENT_TIME_DOC, EventTime, withEventTime } from './event-time';
import { actorOf } from './ops.controller';
import { textOf } from './views';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

@ApiTags('operations')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('ops/eod')
export class EndOfDayController {
  private readonly catalog = new ProductCatalog();

  constructor(
    @Inject(INFRASTRUCTURE) private readonly infra: Infrastructure,
    private readonly commands: CommandPublisher,
  ) {}

  @Post()
  @HttpCode(202)
  @Roles('operations')
  @ApiOperation({
    summary: 'Run end of day for a trade date: cut-off, settlement prices, variation margin, margin, calls, session roll',
    description:
      'Refused before anything is recorded (ADR 0014): a trade date after the current session’s (422 INVALID_REQUEST, details.code TRADE_DATE_IN_FUTURE); a re-run whose overrides differ from those of the run that settled, or is settling, an instrument for the date (409 CONFLICT, details.code RERUN_DIFFERS).',
  })
  @ApiHeader(EVENT_TIME_DOC)
  async run(@Body() dto: EndOfDayDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string) {
    if (!DATE.test(dto.tradeDate) || Number.isNaN(Date.parse(`${dto.tradeDate}T00:00:00Z`))) {
      throw new DomainRejection('INVALID_REQUEST', 'tradeDate must be a date YYYY-MM-DD', { field: 'tradeDate' });
    }
    const runId = `eod-${randomUUID()}`;
    // Checked and recorded under a lock per trade date: two concurrent runs are checked one after the other
    // (requested_at is taken after the lock, so the runs' order is the order they were checked in).
    const { instruments, overrides } = await this.infra.ds.transaction(async (m) => {
      await sql(m, 'SELECT pg_advisory_xact_lock(hashtext($1))', [`eod:${dto.tradeDate}`]);
      // A successor listed by this trade date's own end of day had no session that day (SPEC §3).
      const listed = await sql<{ symbol: string; listed_after_eod: string | null }>(
        m,
        `SELECT symbol, to_char(listed_after_eod, 'YYYY-MM-DD') AS listed_after_eod FROM instruments WHERE status = 'listed' ORDER BY symbol`,
      );
      const instruments = listed.rows.filter((r) => takesPartInEndOfDay(r.listed_after_eod, dto.tradeDate)).map((r) => r.symbol);
      const settled = await this.settledFor(m, dto.tradeDate);
      const overrides: Record<string, { price: string; reason: string }> = {};
      const requested: Record<string, EndOfDayOverride> = {};
      for (const [symbol, o] of Object.entries(dto.overrides ?? {})) {
        const field = `overrides.${symbol}`;
        // An instrument settled for this date (then expired by its final settlement) is still named by a re-run.
        const refused = checkOverrideInstrument(
          symbol,
          dto.tradeDate,
          instruments.includes(symbol),
          settled.some((e) => e.instrument === symbol),
        );
        if (refused) throw new DomainRejection('UNKNOWN_INSTRUMENT', refused, { field });
        const product = this.catalog.forSymbol(symbol);
        const price = o && typeof o === 'object' ? parsePriceToTicks(textOf((o as { price?: unknown }).price ?? ''), product?.tickCents ?? 1) : null;
        if (!price || !price.ok || !isBoundedPrice(price.ticks)) {
          throw new DomainRejection('INVALID_REQUEST', `override price for ${symbol} must be a positive price in whole ticks, at most ${MAX_PRICE_TEXT}`, {
            field: `${field}.price`,
          });
        }
        const reason = (o as { reason?: unknown }).reason;
        if (typeof reason !== 'string' || reason.trim() === '')
          throw new DomainRejection('INVALID_REQUEST', `an override needs a reason (${symbol})`, { field: `${field}.reason` });
        overrides[symbol] = { price: formatTicks(price.ticks, product?.tickCents ?? 1), reason };
        requested[symbol] = { priceTicks: price.ticks, reason };
      }
      // The cut-off is sequenced at the requested time, or at a book's clock if that is later.
      const requestedAt = eventTime === undefined ? Date.now() : Date.parse(eventTime);
      const future = checkEndOfDayTradeDate(dto.tradeDate, Math.max(requestedAt, await this.booksClock(m, instruments)));
      if (future) throw new DomainRejection('INVALID_REQUEST', future.message, { field: future.field, httpStatus: 422, details: { code: future.code } });
      const differs = checkEndOfDayRerun(dto.tradeDate, requested, [...settled, ...(await this.running(m, dto.tradeDate, settled))], this.catalog);
      if (differs)
        throw new DomainRejection('CONFLICT', differs.message, { field: differs.field, details: { code: differs.code, instrument: differs.instrument } });
      await sql(
        m,
        `INSERT INTO eod_runs (trade_date, run_id, instruments, instruments_total, overrides, cutoff_at, requested_at) VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())`,
        [dto.tradeDate, runId, instruments, instruments.length, JSON.stringify(overrides), eventTime ?? null],
      );
      return { instruments, overrides };
    });
    const actor = actorOf(who);
    await Promise.all(
      instruments.map((symbol) =>
        this.commands.publish(
          'matchingCommands',
          symbol,
          'Cutoff',
          withEventTime({ instrument: symbol, tradeDate: dto.tradeDate, runId, ...(overrides[symbol] ? { override: overrides[symbol] } : {}) }, eventTime),
          actor,
          runId,
        ),
      ),
    );
    return { tradeDate: dto.tradeDate, runId, instruments, status: 'running' };
  }

  /** The instruments settled for the trade date, with the override each was settled with. */
  private async settledFor(m: EntityManager, tradeDate: string): Promise<EarlierEndOfDay[]> {
    const r = await sql<{ payload: { instrument: string; price: string; method: string; reason?: string } }>(
      m,
      `SELECT payload FROM event_log WHERE type = 'SettlementPriceSet' AND payload->>'tradeDate' = $1 ORDER BY seq`,
      [tradeDate],
    );
    return r.rows.map(({ payload: s }) => ({
      instrument: s.instrument,
      state: 'settled' as const,
      override: s.method === 'override' ? this.overrideOf(s.instrument, s.price, s.reason) : null,
    }));
  }

  /**
   * The instruments whose latest run for the trade date has not been cut yet (no eod_cutoffs row),
   * with the override that run asked for. Cut-offs of an instrument are sequenced in order, so an
   * earlier run left uncut behind a later one's cut-off was never published: the later one counts.
   */
  private async running(m: EntityManager, tradeDate: string, settled: readonly EarlierEndOfDay[]): Promise<EarlierEndOfDay[]> {
    const runs = await sql<{ run_id: string; instruments: string[]; overrides: Record<string, { price: string; reason: string }> }>(
      m,
      'SELECT run_id, instruments, overrides FROM eod_runs WHERE trade_date = $1 ORDER BY requested_at',
      [tradeDate],
    );
    const cut = await sql<{ run_id: string; instrument: string }>(m, 'SELECT run_id, instrument FROM eod_cutoffs WHERE trade_date = $1', [tradeDate]);
    const cutKeys = new Set(cut.rows.map((c) => `${c.run_id}|${c.instrument}`));
    const latest = new Map<string, (typeof runs.rows)[number]>();
    for (const run of runs.rows) for (const symbol of run.instruments) latest.set(symbol, run);
    return [...latest]
      .filter(([symbol, run]) => !settled.some((e) => e.instrument === symbol) && !cutKeys.has(`${run.run_id}|${symbol}`))
      .map(([symbol, run]) => {
        const o = run.overrides?.[symbol];
        return { instrument: symbol, state: 'running' as const, override: o ? this.overrideOf(symbol, o.price, o.reason) : null };
      });
  }

  private overrideOf(symbol: string, price: string, reason: string | undefined): EndOfDayOverride | null {
    const ticks = parsePriceToTicks(price, this.catalog.forSymbol(symbol)?.tickCents ?? 1);
    return ticks.ok ? { priceTicks: ticks.ticks, reason: reason ?? '' } : null;
  }

  /** The latest clock of the instruments' books (epoch ms; 0 when none has one yet). */
  private async booksClock(m: EntityManager, instruments: string[]): Promise<number> {
    const r = await sql<{ at: Date | null }>(m, 'SELECT max(updated_at) AS at FROM market_data WHERE symbol = ANY($1)', [instruments]);
    return r.rows[0]?.at ? new Date(r.rows[0].at).getTime() : 0;
  }

  @Get(':tradeDate')
  @Roles('operations', 'auditor')
  @ApiOperation({ summary: 'Progress of end of day for a trade date: instruments settled (price, method), variation margin posted, accounts restated' })
  async progress(@Param('tradeDate') tradeDate: string) {
    if (!DATE.test(tradeDate)) throw new DomainRejection('INVALID_REQUEST', 'tradeDate must be a date YYYY-MM-DD', { field: 'tradeDate' });
    const runs = await sql<{ run_id: string; instruments: string[]; requested_at: Date }>(
      this.infra.ds,
      'SELECT run_id, instruments, requested_at FROM eod_runs WHERE trade_date = $1 ORDER BY requested_at',
      [tradeDate],
    );
    if (!runs.rows.length) throw new DomainRejection('NOT_FOUND', `no end of day was run for ${tradeDate}`, { field: 'tradeDate' });
    const expected = [...new Set(runs.rows.flatMap((r) => r.instruments))].sort();
    const events = await sql<{ type: string; stream: string; payload: Record<string, unknown> }>(
      this.infra.ds,
      `SELECT type, stream, payload FROM event_log WHERE type IN ('SettlementPriceSet', 'EndOfDayFailed', 'EndOfDayCompleted') AND payload->>'tradeDate' = $1 ORDER BY seq`,
      [tradeDate],
    );
    const settled = events.rows.filter((e) => e.type === 'SettlementPriceSet').map((e) => e.payload);
    // A failure that a later run of the same trade date made good (a final settlement once the
    // index was published) is no longer outstanding.
    const failed = events.rows
      .filter((e) => e.type === 'EndOfDayFailed')
      .map((e) => e.payload)
      .filter((f) => !settled.some((s) => s.instrument === f.instrument));
    const cleared = await sql<{ instrument: string }>(this.infra.ds, 'SELECT instrument FROM settlements WHERE trade_date = $1', [tradeDate]);
    const vm = await sql<{ n: string }>(this.infra.ds, 'SELECT count(DISTINCT account_id) AS n FROM variation_margin WHERE trade_date = $1', [tradeDate]);
    // Risk's public read model of what its replica has settled (its risk_state is its own).
    const risk = await sql<{ instrument: string }>(this.infra.ds, 'SELECT instrument FROM risk_settlements WHERE trade_date = $1', [tradeDate]);
    const riskSettled = risk.rows.map((r) => r.instrument);
    const stated = await sql<{ n: string }>(
      this.infra.ds,
      `SELECT count(DISTINCT payload->>'account') AS n FROM event_log WHERE stream = 'risk' AND type = 'MarginRequirementStated' AND payload->>'tradeDate' = $1`,
      [tradeDate],
    );
    const settledSymbols = settled.map((s) => String(s.instrument));
    const failedSymbols = failed.map((s) => String(s.instrument));
    // Every run's Cutoff must have reached each of its instruments' sequencers (eod_cutoffs): a run
    // repeating a decided trade date is otherwise indistinguishable from the earlier run's end.
    const cut = await sql<{ run_id: string; instrument: string }>(this.infra.ds, 'SELECT run_id, instrument FROM eod_cutoffs WHERE trade_date = $1', [
      tradeDate,
    ]);
    const cutKeys = new Set(cut.rows.map((c) => `${c.run_id}|${c.instrument}`));
    const allCut = runs.rows.every((r) => r.instruments.every((s) => cutKeys.has(`${r.run_id}|${s}`)));
    const allDecided = allCut && expected.every((s) => settledSymbols.includes(s) || failedSymbols.includes(s));
    // Risk logs EndOfDayCompleted once the day's calls are assessed and clearing's VM is all posted;
    // a run that settles what an earlier one could not completes the day again, over every instrument.
    const completedLogged = events.rows.some(
      (e) => e.type === 'EndOfDayCompleted' && settledSymbols.every((s) => ((e.payload.instruments as string[] | undefined) ?? []).includes(s)),
    );
    const downstreamDone =
      settledSymbols.every((s) => cleared.rows.some((c) => c.instrument === s) && riskSettled.includes(s)) && (settledSymbols.length === 0 || completedLogged);
    const status = allDecided && downstreamDone ? (failedSymbols.length ? 'completed_with_failures' : 'completed') : 'running';
    const accountsDone = Number(stated.rows[0]?.n ?? 0);
    return {
      tradeDate,
      status,
      runs: runs.rows.map((r) => r.run_id),
      instrumentsTotal: expected.length,
      instrumentsSettled: settled.length,
      settlements: settled.map((s) => ({
        instrument: s.instrument,
        price: s.price,
        previousPrice: s.previousPrice,
        method: s.method,
        ...(s.reason !== undefined ? { reason: s.reason } : {}),
        variationMarginPosted: cleared.rows.some((c) => c.instrument === s.instrument),
        marginRestated: riskSettled.includes(String(s.instrument)),
      })),
      failures: failed.map((f) => ({ instrument: f.instrument, code: f.code, message: f.message })),
      accountsWithVariationMargin: Number(vm.rows[0]?.n ?? 0),
      accountsDone,
    };
  }
}
