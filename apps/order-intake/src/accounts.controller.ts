/** A member's own positions, trades, cash and margin; the market data of each instrument. */
import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { formatCents } from '@ch/domain';
import { sql } from '@ch/persistence';
import { AccountScoped, API_KEY_SECURITY_NAME, DomainRejection, Roles } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { cents, iso, priceOf } from './views';
import { tradeRow } from './member-view';

@ApiTags('accounts')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('accounts/:accountId')
export class AccountsController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Get('positions')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'Net position per instrument, in lots, against the clearinghouse' })
  async positions(@Param('accountId') accountId: string) {
    const r = await sql<{ instrument: string; qty: string; updated_at: Date }>(
      this.infra.ds,
      'SELECT instrument, qty, updated_at FROM positions WHERE account_id = $1 AND qty <> 0 ORDER BY instrument',
      [accountId],
    );
    return { account: accountId, positions: r.rows.map((x) => ({ instrument: x.instrument, qty: Number(x.qty), updatedAt: iso(x.updated_at) })) };
  }

  @Get('trades')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'The account’s cleared trades, newest first' })
  async trades(@Param('accountId') accountId: string) {
    const r = await sql(this.infra.ds, `SELECT * FROM trades WHERE buy_account = $1 OR sell_account = $1 ORDER BY at DESC, trade_id DESC LIMIT 500`, [
      accountId,
    ]);
    return r.rows.map((row) => tradeRow(row, accountId));
  }

  @Get('cash')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'Cash balance and the cash ledger (deposits, withdrawals, variation margin)' })
  async cash(@Param('accountId') accountId: string) {
    const bal = await sql<{ balance: string }>(this.infra.ds, 'SELECT balance FROM cash_balances WHERE account_id = $1', [accountId]);
    const ledger = await sql<{ kind: string; amount: string; balance_after: string; reference: string; at: Date }>(
      this.infra.ds,
      'SELECT kind, amount, balance_after, reference, at FROM cash_ledger WHERE account_id = $1 ORDER BY id DESC LIMIT 500',
      [accountId],
    );
    return {
      account: accountId,
      balance: formatCents(Number(bal.rows[0]?.balance ?? 0)),
      entries: ledger.rows.map((e) => ({ kind: e.kind, amount: cents(e.amount), balanceAfter: cents(e.balance_after), reference: e.reference, at: iso(e.at) })),
    };
  }

  @Get('margin')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'Equity, initial and maintenance margin, with the parameters used per instrument (σ, rate, reference price)' })
  async margin(@Param('accountId') accountId: string) {
    const r = await sql<{ equity: string; initial_margin: string; maintenance_margin: string; instruments: Record<string, unknown>[]; updated_at: Date }>(
      this.infra.ds,
      'SELECT equity, initial_margin, maintenance_margin, instruments, updated_at FROM margin WHERE account_id = $1',
      [accountId],
    );
    const calls = await sql<{ trade_date: string; amount: string; intraday: boolean; at: Date }>(
      this.infra.ds,
      `SELECT to_char(trade_date, 'YYYY-MM-DD') AS trade_date, amount, intraday, at FROM margin_calls WHERE account_id = $1 ORDER BY id DESC LIMIT 100`,
      [accountId],
    );
    const m = r.rows[0];
    return {
      account: accountId,
      equity: m ? cents(m.equity) : '0.00',
      initialMargin: m ? cents(m.initial_margin) : '0.00',
      maintenanceMargin: m ? cents(m.maintenance_margin) : '0.00',
      instruments: (m?.instruments ?? []).map((i) => ({
        instrument: i.instrument,
        lots: i.lots,
        sigma: i.sigma,
        rate: ppbToDecimal(Number(i.ratePpb)),
        referencePrice: priceOf(i.referencePrice, typeof i.instrument === 'string' ? i.instrument : ''),
        initialMargin: cents(i.im),
      })),
      calls: calls.rows.map((c) => ({ tradeDate: c.trade_date, amount: cents(c.amount), intraday: c.intraday, at: iso(c.at) })),
      updatedAt: m ? iso(m.updated_at) : null,
    };
  }
}

@ApiTags('market data')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('instruments')
export class MarketController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Get()
  @Roles('member', 'operations', 'auditor')
  @ApiOperation({ summary: 'Listed and expired instruments' })
  async list() {
    const r = await sql(
      this.infra.ds,
      `SELECT symbol, product, reference_price, to_char(last_trading_day, 'YYYY-MM-DD') AS ltd, status FROM instruments ORDER BY symbol`,
    );
    return r.rows.map((x) => ({
      symbol: x.symbol,
      product: x.product,
      referencePrice: priceOf(x.reference_price, String(x.symbol)),
      lastTradingDay: x.ltd,
      status: x.status,
    }));
  }

  @Get(':symbol/halts')
  @Roles('member', 'operations', 'auditor')
  @ApiOperation({
    summary:
      'The instrument’s halts as risk derives them from the trade log (SPEC §5), oldest first: tier 1 for 10 minutes of event time, tier 2 until the session ends (end null)',
  })
  async halts(@Param('symbol') symbol: string) {
    const known = await sql(this.infra.ds, 'SELECT 1 FROM instruments WHERE symbol = $1', [symbol]);
    if (!known.rows.length) throw new DomainRejection('NOT_FOUND', `no instrument ${symbol}`);
    const r = await sql<{ tier: number; start_at: Date; end_at: Date | null }>(
      this.infra.ds,
      'SELECT tier, start_at, end_at FROM halts WHERE instrument = $1 ORDER BY start_at',
      [symbol],
    );
    return r.rows.map((h) => ({ instrument: symbol, tier: h.tier, start: iso(h.start_at), end: h.end_at === null ? null : iso(h.end_at) }));
  }

  @Get(':symbol')
  @Roles('member', 'operations', 'auditor')
  @ApiOperation({ summary: 'Market data: top of book and depth, last trade, session state and the active price band' })
  async one(@Param('symbol') symbol: string) {
    const r = await sql(this.infra.ds, 'SELECT * FROM market_data WHERE symbol = $1', [symbol]);
    const x = r.rows[0];
    if (!x) throw new DomainRejection('NOT_FOUND', `no market data for ${symbol}`);
    const depth = x.depth as { bids: { price: number; qty: number; orders: number }[]; asks: { price: number; qty: number; orders: number }[] };
    const level = (l: { price: number; qty: number; orders: number }) => ({ price: priceOf(l.price, symbol), qty: l.qty, orders: l.orders });
    return {
      symbol,
      sessionState: x.session_state,
      band: { tier: x.band_tier, low: priceOf(x.band_lo, symbol), high: priceOf(x.band_hi, symbol) },
      referencePrice: priceOf(x.reference_price, symbol),
      lastPrice: priceOf(x.last_price, symbol),
      bestBid: depth.bids[0] ? level(depth.bids[0]) : null,
      bestAsk: depth.asks[0] ? level(depth.asks[0]) : null,
      depth: { bids: depth.bids.map(level), asks: depth.asks.map(level) },
      halt: x.halt,
      updatedAt: iso(x.updated_at),
    };
  }
}

function ppbToDecimal(ppb: number): string {
  return (ppb / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
}
