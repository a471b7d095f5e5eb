/**
 * Outstanding margin calls (SPEC §6): what each account still owes, as risk's replica knows it
 * (projected with the account's margin into `margin.outstanding_calls`). A deposit pays calls
 * oldest first; a new end-of-day call supersedes the account's older ones (it is for the whole
 * shortfall). The history of calls issued is in /accounts/{id}/margin.
 */
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { sql } from '@ch/persistence';
import { AccountScoped, API_KEY_SECURITY_NAME, Roles } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { cents, iso } from './views';

interface StoredCall {
  remaining: number;
  called: number;
  intraday: boolean;
  tradeDate: string | null;
}

interface Row {
  account_id: string;
  outstanding_calls: StoredCall[];
  equity: string;
  initial_margin: string;
  maintenance_margin: string;
  updated_at: Date;
}

function view(row: Row) {
  const calls = row.outstanding_calls.map((c) => ({ tradeDate: c.tradeDate, intraday: c.intraday, called: cents(c.called), remaining: cents(c.remaining) }));
  const total = row.outstanding_calls.reduce((s, c) => s + Number(c.remaining), 0);
  return {
    account: row.account_id,
    outstanding: cents(total),
    calls,
    equity: cents(row.equity),
    initialMargin: cents(row.initial_margin),
    maintenanceMargin: cents(row.maintenance_margin),
    updatedAt: iso(row.updated_at),
  };
}

const COLUMNS = 'account_id, outstanding_calls, equity, initial_margin, maintenance_margin, updated_at';

@ApiTags('margin calls')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller()
export class CallsController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Get('ops/calls')
  @Roles('operations', 'auditor')
  @ApiOperation({
    summary: 'Every account with an outstanding margin call: what is still owed per call (called, remaining), with the account’s equity, IM and MM',
  })
  async all() {
    const r = await sql<Row>(this.infra.ds, `SELECT ${COLUMNS} FROM margin WHERE jsonb_array_length(outstanding_calls) > 0 ORDER BY account_id`);
    return r.rows.map(view);
  }

  @Get('accounts/:accountId/calls')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'The account’s outstanding margin calls (empty when nothing is owed)' })
  async mine(@Param('accountId') accountId: string) {
    const r = await sql<Row>(this.infra.ds, `SELECT ${COLUMNS} FROM margin WHERE account_id = $1`, [accountId]);
    const row = r.rows[0];
    return row
      ? view(row)
      : { account: accountId, outstanding: '0.00', calls: [], equity: '0.00', initialMargin: '0.00', maintenanceMargin: '0.00', updatedAt: null };
  }
}
