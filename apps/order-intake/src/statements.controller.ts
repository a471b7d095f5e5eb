/**
 * Daily statements (SPEC §7.4): per account and trade date, from the projections — the positions
 * at the settlement, the fills of the day, the variation margin, the cash movements, IM, MM and the
 * calls. JSON, or CSV with ?format=csv.
 *
 * A trade date's session of an instrument is the register's trades after the previous
 * settlement's last trade up to this settlement's (clearing's `settlements`); the cash movements
 * are those after the previous trade date's settlement up to this one's.
 */
import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { sql } from '@ch/persistence';
import { AccountScoped, API_KEY_SECURITY_NAME, DomainRejection, Roles } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { cents, iso, priceOf } from './views';
import { tradeRow } from './member-view';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface HeaderSink {
  header(name: string, value: string): unknown;
}

@ApiTags('accounts')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('accounts/:accountId/statements')
export class StatementsController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Get(':tradeDate')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'The account’s statement for a settled trade date: positions, fills, variation margin, cash movements, IM, MM, calls' })
  @ApiQuery({ name: 'format', required: false, enum: ['json', 'csv'] })
  async statement(
    @Param('accountId') accountId: string,
    @Param('tradeDate') tradeDate: string,
    @Query('format') format: string | undefined,
    @Res({ passthrough: true }) reply: HeaderSink,
  ) {
    if (!DATE.test(tradeDate)) throw new DomainRejection('INVALID_REQUEST', 'tradeDate must be a date YYYY-MM-DD', { field: 'tradeDate' });
    const s = await this.build(accountId, tradeDate);
    if (format === 'csv') {
      reply.header('content-type', 'text/csv; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="statement-${accountId}-${tradeDate}.csv"`);
      return toCsv(s);
    }
    return s;
  }

  private async build(account: string, tradeDate: string) {
    const db = this.infra.ds;
    const settled = await sql<{
      instrument: string;
      price: string;
      previous_price: string;
      method: string;
      reason: string | null;
      last_trade_id: string;
      at: Date;
      prev_last: string | null;
    }>(
      db,
      `SELECT s.instrument, s.price, s.previous_price, s.method, s.reason, s.last_trade_id, s.at,
              (SELECT p.last_trade_id FROM settlements p WHERE p.instrument = s.instrument AND p.trade_date < s.trade_date ORDER BY p.trade_date DESC LIMIT 1) AS prev_last
         FROM settlements s WHERE s.trade_date = $1 ORDER BY s.instrument`,
      [tradeDate],
    );
    if (!settled.rows.length) throw new DomainRejection('NOT_FOUND', `${tradeDate} has not been settled`, { field: 'tradeDate' });
    const positions: { instrument: string; qty: number; settlementPrice: string | null; method: string }[] = [];
    const fills: ReturnType<typeof tradeRow>[] = [];
    for (const st of settled.rows) {
      const pos = await sql<{ qty: string }>(
        db,
        `SELECT COALESCE(sum(CASE WHEN buy_account = $2 THEN qty ELSE 0 END) - sum(CASE WHEN sell_account = $2 THEN qty ELSE 0 END), 0) AS qty
           FROM trades WHERE instrument = $1 AND trade_id <= $3 AND (buy_account = $2 OR sell_account = $2)`,
        [st.instrument, account, st.last_trade_id],
      );
      const qty = Number(pos.rows[0]?.qty ?? 0);
      const day = await sql(
        db,
        `SELECT * FROM trades WHERE instrument = $1 AND trade_id > $2 AND trade_id <= $3 AND (buy_account = $4 OR sell_account = $4) ORDER BY trade_id`,
        [st.instrument, st.prev_last ?? '0', st.last_trade_id, account],
      );
      if (qty !== 0 || day.rows.length)
        positions.push({ instrument: st.instrument, qty, settlementPrice: priceOf(st.price, st.instrument), method: st.method });
      for (const row of day.rows) fills.push(tradeRow(row, account));
    }
    const vm = await sql<{ instrument: string; amount: string }>(
      db,
      'SELECT instrument, amount FROM variation_margin WHERE account_id = $1 AND trade_date = $2 ORDER BY instrument',
      [account, tradeDate],
    );
    const until = settled.rows.reduce((t, r) => (r.at > t ? r.at : t), settled.rows[0].at);
    const prev = await sql<{ at: Date | null }>(db, 'SELECT max(at) AS at FROM settlements WHERE trade_date < $1', [tradeDate]);
    const from = prev.rows[0]?.at ?? new Date(0);
    const cash = await sql<{ kind: string; amount: string; balance_after: string; reference: string; at: Date }>(
      db,
      'SELECT kind, amount, balance_after, reference, at FROM cash_ledger WHERE account_id = $1 AND at > $2 AND at <= $3 ORDER BY id',
      [account, from, until],
    );
    const margin = await sql<{ payload: Record<string, unknown> }>(
      db,
      `SELECT payload FROM event_log WHERE stream = 'risk' AND type = 'MarginRequirementStated' AND payload->>'account' = $1 AND payload->>'tradeDate' = $2 ORDER BY seq DESC LIMIT 1`,
      [account, tradeDate],
    );
    const calls = await sql<{ amount: string; intraday: boolean; equity: string; at: Date }>(
      db,
      'SELECT amount, intraday, equity, at FROM margin_calls WHERE account_id = $1 AND trade_date = $2 ORDER BY id',
      [account, tradeDate],
    );
    const m = margin.rows[0]?.payload;
    return {
      account,
      tradeDate,
      positions,
      fills,
      variationMargin: vm.rows.map((v) => ({ instrument: v.instrument, amount: cents(v.amount) })),
      cashMovements: cash.rows.map((c) => ({
        kind: c.kind,
        amount: cents(c.amount),
        balanceAfter: cents(c.balance_after),
        reference: c.reference,
        at: iso(c.at),
      })),
      equity: m ? String(m.equity) : null,
      initialMargin: m ? String(m.im) : null,
      maintenanceMargin: m ? String(m.mm) : null,
      calls: calls.rows.map((c) => ({ amount: cents(c.amount), intraday: c.intraday, equity: cents(c.equity), at: iso(c.at) })),
    };
  }
}

type Statement = Awaited<ReturnType<StatementsController['build']>>;

type CsvValue = string | number | boolean | null | undefined;

function csvField(v: CsvValue): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One section per block; each row starts with its section name. */
export function toCsv(s: Statement): string {
  const rows: CsvValue[][] = [['section', 'instrument', 'field1', 'field2', 'field3', 'field4']];
  rows.push(['account', s.account, s.tradeDate]);
  for (const p of s.positions) rows.push(['position', p.instrument, p.qty, p.settlementPrice, p.method]);
  for (const f of s.fills) rows.push(['fill', f.instrument, f.tradeId, f.side, f.qty, f.price]);
  for (const v of s.variationMargin) rows.push(['variation_margin', v.instrument, v.amount]);
  for (const c of s.cashMovements) rows.push(['cash', '', c.kind, c.amount, c.balanceAfter, c.at]);
  rows.push(['margin', '', s.equity, s.initialMargin, s.maintenanceMargin]);
  for (const c of s.calls) rows.push(['call', '', c.amount, c.intraday, c.equity, c.at]);
  return rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}
