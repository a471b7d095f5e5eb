/**
 * Member orders: submit, cancel, replace, and read one's own. The form, the tick and the
 * instrument are checked here (4xx, nothing written); the rest of SPEC §4's checks run in risk and
 * matching, whose outcome the caller can wait for (?wait=true) or follow over server-sent events.
 */
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res, Sse, type MessageEvent } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { map, type Observable } from 'rxjs';
import { ProductCatalog } from '@ch/domain';
import { validateOrderFields } from '@ch/rulebook';
import { AccountScoped, API_KEY_SECURITY_NAME, CurrentPrincipal, DomainRejection, OrderRoute, Roles, type Principal } from '@ch/platform';
import { sql } from '@ch/persistence';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { CommandPublisher } from './commands';
import { CancelOrderDto, ReplaceOrderDto, SubmitOrderDto } from './dto';
import { actorOf } from './ops.controller';
import { Outcomes } from './outcomes';
import { InstrumentDirectory } from './instruments';
import { orderRow } from './views';

const WAIT_MS = 5_000;

@ApiTags('orders')
@ApiSecurity(API_KEY_SECURITY_NAME)
@OrderRoute()
@Controller()
export class OrdersController {
  private readonly catalog = new ProductCatalog();

  constructor(
    @Inject(INFRASTRUCTURE) private readonly infra: Infrastructure,
    private readonly commands: CommandPublisher,
    private readonly outcomes: Outcomes,
    private readonly instruments: InstrumentDirectory,
  ) {}

  @Post('orders')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('account', 'body')
  @ApiOperation({ summary: 'Submit an order. 202 once accepted for processing; with wait=true, the outcome (accepted, or 422 with the reason)' })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  async submit(@Body() dto: SubmitOrderDto, @CurrentPrincipal() who: Principal, @Query('wait') wait?: string) {
    const product = this.catalog.forSymbol(dto.instrument);
    if (!product) throw new DomainRejection('UNKNOWN_INSTRUMENT', `no such instrument ${dto.instrument}`, { field: 'instrument' });
    const form = validateOrderFields(dto.account, dto.clientOrderId, dto, product);
    if (!form.ok) throw new DomainRejection(form.reason, `invalid ${form.field}`, { field: form.field });
    const status = await this.instruments.status(dto.instrument);
    if (status === null) throw new DomainRejection('UNKNOWN_INSTRUMENT', `no such instrument ${dto.instrument}`, { field: 'instrument' });
    if (status === 'expired') throw new DomainRejection('INSTRUMENT_EXPIRED', `${dto.instrument} has expired`, { field: 'instrument' });
    const o = form.order;
    const payload = { account: o.account, clientOrderId: o.clientOrderId, instrument: dto.instrument, side: o.side, type: o.type, tif: o.tif, price: o.type === 'market' ? null : dto.price, qty: o.qty };
    const waiter = wait === 'true' ? this.outcomes.waitFor(o.account, o.clientOrderId, WAIT_MS) : null;
    try {
      await this.commands.publish('orders', o.account, 'SubmitOrder', payload, actorOf(who));
    } catch (e) {
      waiter?.cancel();
      throw e;
    }
    if (!waiter) return { status: 'received', account: o.account, clientOrderId: o.clientOrderId };
    const outcome = await waiter.promise;
    if (outcome?.type === 'OrderRejected') {
      const p = outcome.payload;
      throw new DomainRejection(p.reason as never, `order rejected: ${String(p.reason)}`, p.field ? { field: String(p.field) } : {});
    }
    // No report in time (or an exact retry, which creates nothing): answer with the stored order.
    const row = await this.readOrder(o.account, o.clientOrderId);
    return row ?? { status: outcome ? 'accepted' : 'received', account: o.account, clientOrderId: o.clientOrderId };
  }

  @Post('orders/:clientOrderId/cancel')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('account', 'body')
  @ApiOperation({ summary: 'Cancel a resting order (accepted even during a halt)' })
  async cancel(@Param('clientOrderId') clientOrderId: string, @Body() dto: CancelOrderDto, @CurrentPrincipal() who: Principal) {
    await this.commands.publish('orders', dto.account, 'CancelOrder', { account: dto.account, clientOrderId }, actorOf(who));
    return { status: 'received', account: dto.account, clientOrderId };
  }

  @Post('orders/:clientOrderId/replace')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('account', 'body')
  @ApiOperation({ summary: 'Replace price and/or open quantity; lowering the quantity keeps priority' })
  async replace(@Param('clientOrderId') clientOrderId: string, @Body() dto: ReplaceOrderDto, @CurrentPrincipal() who: Principal) {
    await this.commands.publish('orders', dto.account, 'ReplaceOrder', { account: dto.account, clientOrderId, price: dto.price, qty: dto.qty }, actorOf(who));
    return { status: 'received', account: dto.account, clientOrderId };
  }

  @Get('accounts/:accountId/orders')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'The account’s orders, newest first' })
  async list(@Param('accountId') accountId: string) {
    const r = await sql(this.infra.ds, 'SELECT * FROM orders WHERE account_id = $1 ORDER BY updated_at DESC LIMIT 500', [accountId]);
    return r.rows.map(orderRow);
  }

  @Get('accounts/:accountId/orders/:clientOrderId')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  async one(@Param('accountId') accountId: string, @Param('clientOrderId') clientOrderId: string) {
    const row = await this.readOrder(accountId, clientOrderId);
    if (!row) throw new DomainRejection('UNKNOWN_ORDER', `no order ${clientOrderId} on ${accountId}`);
    return row;
  }

  @Sse('accounts/:accountId/executions')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'Server-sent events: the account’s execution reports (accepted, rejected, fills, cancels) as they happen' })
  executions(@Param('accountId') accountId: string): Observable<MessageEvent> {
    return this.outcomes.stream(accountId).pipe(map((r) => ({ type: r.type, data: r.payload })));
  }

  private async readOrder(account: string, clientOrderId: string) {
    const r = await sql(this.infra.ds, 'SELECT * FROM orders WHERE account_id = $1 AND client_order_id = $2', [account, clientOrderId]);
    return r.rows[0] ? orderRow(r.rows[0]) : null;
  }
}

export { Res };
