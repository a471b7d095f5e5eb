/**
 * Member orders: submit, cancel, replace, and read one's own. The form, the tick and the
 * instrument are checked here (4xx, nothing written); the rest of SPEC §4's checks run in risk and
 * matching, whose outcome the caller can wait for (?wait=true) or follow over server-sent events.
 */
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { finalize, map, type Observable } from 'rxjs';
import { randomUUID } from 'node:crypto';
import { isBoundedPrice, parsePriceToTicks, ProductCatalog } from '@ch/domain';
import { clientOrderContent, validateOrderFields } from '@ch/rulebook';
import { decodeEvent, type CommandPayload } from '@ch/messages';
import {
  AccountScoped,
  API_KEY_SECURITY_NAME,
  CurrentPrincipal,
  DomainRejection,
  ErrorResponseDto,
  OrderRoute,
  REJECTION_REASONS,
  Roles,
  type Principal,
} from '@ch/platform';
import { sql } from '@ch/persistence';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { CommandPublisher } from './commands';
import { CancelOrderDto, ReplaceOrderDto, SubmitOrderDto } from './dto';
import { actorOf, pollUntil } from './ops.controller';
import { Outcomes, type CommandKind, type ExecutionReport } from './outcomes';
import { EVENT_TIME_DOC, EventTime, withEventTime } from './event-time';
import { InstrumentDirectory } from './instruments';
import { orderRow } from './views';
import { DEFAULT_MAX_STREAMS_PER_KEY, maxStreamsPerKey, StreamSlots } from './stream-slots';

const WAIT_MS = 5_000;
const CLIENT_ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

const expired = (instrument: string) => new DomainRejection('INSTRUMENT_EXPIRED', `${instrument} has expired`, { field: 'instrument' });

/** The clientOrderId named in the path has the form of one (as SubmitOrderDto requires). */
function checkClientOrderId(clientOrderId: string): void {
  if (clientOrderId.length > 64 || !CLIENT_ORDER_ID.test(clientOrderId))
    throw new DomainRejection('INVALID_ORDER', 'invalid clientOrderId', { field: 'clientOrderId' });
}

@ApiTags('orders')
@ApiSecurity(API_KEY_SECURITY_NAME)
@OrderRoute()
@Controller()
export class OrdersController {
  private readonly catalog = new ProductCatalog();
  private readonly streams = new StreamSlots(maxStreamsPerKey());

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
  @ApiOperation({ summary: 'Submit an order. 202 once accepted for processing; with wait=true, the outcome (the order, or 422 with the reason)' })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async submit(@Body() dto: SubmitOrderDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string, @Query('wait') wait?: string) {
    const product = this.catalog.forSymbol(dto.instrument);
    if (!product) throw new DomainRejection('UNKNOWN_INSTRUMENT', `no such instrument ${dto.instrument}`, { field: 'instrument' });
    const form = validateOrderFields(dto.account, dto.clientOrderId, dto, product);
    if (!form.ok) throw new DomainRejection(form.reason, `invalid ${form.field}`, { field: form.field });
    const status = await this.instruments.status(dto.instrument);
    if (status === null) throw new DomainRejection('UNKNOWN_INSTRUMENT', `no such instrument ${dto.instrument}`, { field: 'instrument' });
    if (status === 'expired') throw new DomainRejection('INSTRUMENT_EXPIRED', `${dto.instrument} has expired`, { field: 'instrument' });
    const o = form.order;
    // An exact retry of an order risk has already taken (SPEC §4) is answered here with the
    // original outcome, at once, and sends nothing: nothing reaches the log.
    if (await this.isExactRetry(o.account, o.clientOrderId, clientOrderContent(dto.instrument, o))) {
      return this.originalOutcome(o.account, o.clientOrderId, wait === 'true');
    }
    const payload = withEventTime(
      {
        account: o.account,
        clientOrderId: o.clientOrderId,
        instrument: dto.instrument,
        side: o.side,
        type: o.type,
        tif: o.tif,
        price: o.type === 'market' ? null : (dto.price ?? null),
        qty: o.qty,
      },
      eventTime,
    );
    const outcome = await this.send('new', wait, o.account, 'SubmitOrder', payload, who);
    if (outcome === undefined) return { status: 'received', account: o.account, clientOrderId: o.clientOrderId };
    // Risk saw an exact retry (the original was still on its way when this one was checked above).
    if (outcome?.type === 'OrderRetried') return this.originalOutcome(o.account, o.clientOrderId, true);
    // No report in time: answer with the stored order.
    const row = await this.readOrder(o.account, o.clientOrderId);
    return row ?? { status: outcome ? 'accepted' : 'received', account: o.account, clientOrderId: o.clientOrderId };
  }

  @Post('orders/:clientOrderId/cancel')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('account', 'body')
  @ApiOperation({
    summary:
      'Cancel a resting order (accepted even during a halt). With wait=true, the outcome: the cancelled order, or 404 UNKNOWN_ORDER / 422 with the reason',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async cancel(
    @Param('clientOrderId') clientOrderId: string,
    @Body() dto: CancelOrderDto,
    @CurrentPrincipal() who: Principal,
    @EventTime() eventTime?: string,
    @Query('wait') wait?: string,
  ) {
    checkClientOrderId(clientOrderId);
    await this.refuseIfExpired(dto.account, clientOrderId);
    const outcome = await this.send('cancel', wait, dto.account, 'CancelOrder', withEventTime({ account: dto.account, clientOrderId }, eventTime), who);
    if (!outcome) return { status: 'received', account: dto.account, clientOrderId };
    return (await this.readOrder(dto.account, clientOrderId)) ?? { status: 'cancelled', account: dto.account, clientOrderId };
  }

  @Post('orders/:clientOrderId/replace')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('account', 'body')
  @ApiOperation({
    summary:
      'Replace price and/or open quantity; lowering the quantity keeps priority. With wait=true, the outcome: the replaced order, or 404 UNKNOWN_ORDER / 422 with the reason (MARKET_HALTED, PRICE_OUTSIDE_LIMIT, …)',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async replace(
    @Param('clientOrderId') clientOrderId: string,
    @Body() dto: ReplaceOrderDto,
    @CurrentPrincipal() who: Principal,
    @EventTime() eventTime?: string,
    @Query('wait') wait?: string,
  ) {
    checkClientOrderId(clientOrderId);
    // The tick of the order's product when the order is known here already, else the common $0.01.
    const known = await this.orderInstrument(dto.account, clientOrderId);
    const product = known ? this.catalog.forSymbol(known.instrument) : undefined;
    const price = parsePriceToTicks(dto.price, product?.tickCents ?? 1);
    if (!price.ok) throw new DomainRejection(price.reason, 'invalid price', { field: 'price' });
    if (!isBoundedPrice(price.ticks)) throw new DomainRejection('INVALID_ORDER', 'invalid price', { field: 'price' });
    if (known?.status === 'expired') throw expired(known.instrument);
    const outcome = await this.send(
      'replace',
      wait,
      dto.account,
      'ReplaceOrder',
      withEventTime({ account: dto.account, clientOrderId, price: dto.price, qty: dto.qty }, eventTime),
      who,
    );
    if (!outcome) return { status: 'received', account: dto.account, clientOrderId };
    return (await this.readOrder(dto.account, clientOrderId)) ?? { status: 'replaced', account: dto.account, clientOrderId };
  }

  /** Whether risk has recorded this clientOrderId of the account with exactly this content (risk's public view client_orders). */
  private async isExactRetry(account: string, clientOrderId: string, content: string): Promise<boolean> {
    const r = await sql<{ content: string }>(this.infra.ds, 'SELECT content FROM client_orders WHERE account_id = $1 AND client_order_id = $2', [
      account,
      clientOrderId,
    ]);
    return r.rows[0]?.content === content;
  }

  /**
   * The original outcome of an order that an exact retry names: the stored order (a rejected one
   * is answered as the 4xx it was when the caller waits). Risk has taken the original; its order
   * row follows as soon as risk's rejection or matching's acceptance is committed: waiting callers
   * get it within WAIT_MS, others get it if it is there.
   */
  private async originalOutcome(account: string, clientOrderId: string, wait: boolean) {
    const row = wait ? await pollUntil(() => this.readOrder(account, clientOrderId), WAIT_MS) : await this.readOrder(account, clientOrderId);
    if (!row) return { status: 'received', account, clientOrderId };
    if (wait && row.status === 'rejected') {
      // The stored reason is one of SPEC §4's (risk or matching wrote it from a typed OrderRejected).
      const reason = REJECTION_REASONS.find((r) => r === row.reason) ?? 'INVALID_ORDER';
      throw new DomainRejection(reason, `order rejected: ${reason}`);
    }
    return row;
  }

  /** The instrument of an order the account has sent (any status), with the instrument's listing status. */
  private async orderInstrument(account: string, clientOrderId: string): Promise<{ instrument: string; status: string | null } | null> {
    const r = await sql<{ instrument: string; status: string | null }>(
      this.infra.ds,
      'SELECT o.instrument, i.status FROM orders o LEFT JOIN instruments i ON i.symbol = o.instrument WHERE o.account_id = $1 AND o.client_order_id = $2',
      [account, clientOrderId],
    );
    return r.rows[0] ?? null;
  }

  /**
   * SPEC §4 checks INSTRUMENT_EXPIRED before the clientOrderId: a cancel or replace of an order in a
   * contract that has expired is refused as such (its book and risk's open orders have forgotten the
   * order, and would answer UNKNOWN_ORDER), as the in-process rulebook does.
   */
  private async refuseIfExpired(account: string, clientOrderId: string): Promise<void> {
    const known = await this.orderInstrument(account, clientOrderId);
    if (known?.status === 'expired') throw expired(known.instrument);
  }

  /**
   * Publishes a member command. Without wait=true: undefined, at once. With it: the command's
   * outcome (a rejection is thrown as the 4xx it is), or null when none came in time.
   */
  private async send<T extends 'SubmitOrder' | 'CancelOrder' | 'ReplaceOrder'>(
    kind: CommandKind,
    wait: string | undefined,
    account: string,
    type: T,
    payload: CommandPayload<T>,
    who: Principal,
  ): Promise<ExecutionReport | null | undefined> {
    const correlationId = randomUUID();
    const waiter = wait === 'true' ? this.outcomes.waitFor(correlationId, kind, WAIT_MS) : null;
    try {
      await this.commands.publish('orders', account, type, payload, actorOf(who), correlationId);
    } catch (e) {
      waiter?.cancel();
      throw e;
    }
    if (!waiter) return undefined;
    const outcome = await waiter.promise;
    if (outcome?.type === 'OrderRejected') {
      const rejected = decodeEvent('OrderRejected', outcome.payload);
      const what = kind === 'new' ? 'order' : kind;
      throw new DomainRejection(rejected.reason, `${what} rejected: ${rejected.reason}`, rejected.field ? { field: rejected.field } : {});
    }
    return outcome;
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
  @ApiOperation({
    summary: 'Server-sent events: the account’s execution reports (accepted, rejected, fills, cancels) as they happen',
    description:
      'A Fill carries the member’s own side only (its clientOrderId, orderId, leaves quantity; counterparty CCP). ' +
      `One API key may hold at most SSE_MAX_STREAMS_PER_KEY streams open at once (default ${DEFAULT_MAX_STREAMS_PER_KEY}); past that, 429 TOO_MANY_STREAMS.`,
  })
  @ApiResponse({ status: 429, description: 'TOO_MANY_STREAMS: the key already holds its maximum of open streams (details.limit)', type: ErrorResponseDto })
  executions(@Param('accountId') accountId: string, @CurrentPrincipal() who: Principal): Observable<MessageEvent> {
    const release = this.streams.acquire(who.keyId);
    return this.outcomes.stream(accountId).pipe(
      map((r) => ({ type: r.type, data: r.payload })),
      finalize(release),
    );
  }

  private async readOrder(account: string, clientOrderId: string) {
    const r = await sql(this.infra.ds, 'SELECT * FROM orders WHERE account_id = $1 AND client_order_id = $2', [account, clientOrderId]);
    return r.rows[0] ? orderRow(r.rows[0]) : null;
  }
}
