/**
 * Position limits per account and hedge exemptions (SPEC §2, §4 POSITION_LIMIT). Risk applies
 * them, so operations' changes travel as commands on `orders` keyed by the account: each takes
 * effect between two of that account's orders, in the order received, and risk logs it
 * (PositionLimitsSet, HedgeExemptionGranted on the `risk` stream) and keeps it in risk_state
 * (`limits:<account>`), which is what GET .../position-limits reads.
 */
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { ProductCatalog, type ProductSpec } from '@ch/domain';
import { checkPositionLimitsChange, effectiveLimits, grantHedgeExemption, readAccountLimits, type AccountLimits } from '@ch/domain/contracts/account-limits';
import type { CommandPayload } from '@ch/messages';
import { lastSeq, sql } from '@ch/persistence';
import { AccountScoped, API_KEY_SECURITY_NAME, CurrentPrincipal, DomainRejection, Roles, type Principal } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { CommandPublisher } from './commands';
import { HedgeExemptionDto, PositionLimitsDto } from './dto';
import { EVENT_TIME_DOC, EventTime, withEventTime } from './event-time';
import { actorOf, pollUntil } from './ops.controller';

const WAIT_MS = 5_000;

@ApiTags('position limits')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller()
export class PositionLimitsController {
  private readonly catalog = new ProductCatalog();

  constructor(
    @Inject(INFRASTRUCTURE) private readonly infra: Infrastructure,
    private readonly commands: CommandPublisher,
  ) {}

  @Post('ops/hedge-exemptions')
  @HttpCode(202)
  @Roles('operations')
  @ApiOperation({
    summary:
      'Grant an account a hedge exemption in a product (SPEC §17: allMonths and spotMonth in lots; per scope the effective limit is the larger of the account’s limit and the exemption; it replaces a previous exemption). 202 pending; with wait=true, status applied once risk has logged HedgeExemptionGranted',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async grantExemption(@Body() dto: HedgeExemptionDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string, @Query('wait') wait?: string) {
    const product = await this.checkTarget(dto.account, dto.product);
    const exemption = { allMonths: dto.allMonths, spotMonth: dto.spotMonth };
    // The exemption in force already: granting it again would log nothing.
    if (!grantHedgeExemption(await this.limitsOf(dto.account), product.code, exemption))
      return { account: dto.account, product: product.code, ...exemption, status: 'applied', alreadyGranted: true };
    const applied = await this.send(
      dto.account,
      'GrantHedgeExemption',
      { account: dto.account, product: product.code, ...exemption },
      'HedgeExemptionGranted',
      who,
      eventTime,
      wait,
    );
    return { account: dto.account, product: product.code, ...exemption, status: applied ? 'applied' : 'pending', ...(applied ? { at: applied.at } : {}) };
  }

  @Post('ops/position-limits')
  @HttpCode(202)
  @Roles('operations')
  @ApiOperation({
    summary:
      'Set an account’s position limits in a product (whole lots; a limit left out keeps its value). 202 pending; with wait=true, status applied and the limits in force once risk has logged PositionLimitsSet',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async setLimits(@Body() dto: PositionLimitsDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string, @Query('wait') wait?: string) {
    if (dto.allMonths === undefined && dto.spotMonth === undefined)
      throw new DomainRejection('INVALID_REQUEST', 'give allMonths, spotMonth or both', { field: 'allMonths' });
    const product = await this.checkTarget(dto.account, dto.product);
    const checked = checkPositionLimitsChange(await this.limitsOf(dto.account), dto.account, product, dto);
    if (!checked.ok) throw new DomainRejection('INVALID_REQUEST', checked.message, { field: checked.field });
    const requested = {
      ...(dto.allMonths !== undefined ? { allMonths: dto.allMonths } : {}),
      ...(dto.spotMonth !== undefined ? { spotMonth: dto.spotMonth } : {}),
    };
    const applied = await this.send(
      dto.account,
      'SetPositionLimits',
      { account: dto.account, product: product.code, ...requested },
      'PositionLimitsSet',
      who,
      eventTime,
      wait,
    );
    const base = { account: dto.account, product: product.code, requested };
    if (!applied) return { ...base, status: 'pending' };
    return { ...base, status: 'applied', at: applied.at, limits: { allMonths: applied.payload.allMonths, spotMonth: applied.payload.spotMonth } };
  }

  @Get('accounts/:accountId/position-limits')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped('accountId', 'params')
  @ApiOperation({ summary: 'The account’s position limits in force per product (the product defaults unless operations set them) and its hedge exemptions' })
  async limits(@Param('accountId') accountId: string) {
    const state = await this.limitsOf(accountId);
    return {
      account: accountId,
      products: this.catalog.all().map((p) => ({
        product: p.code,
        ...effectiveLimits(state, accountId, p),
        defaults: { ...p.positionLimits },
        configured: p.code in state.overrides,
        hedgeExempt: p.code in state.exemptions,
        ...(p.code in state.exemptions ? { exemption: { ...state.exemptions[p.code] } } : {}),
      })),
      hedgeExemptions: Object.keys(state.exemptions),
    };
  }

  /** The form first (400 for an unknown product), then the account (404). */
  private async checkTarget(account: string, productCode: string): Promise<ProductSpec> {
    const product = this.catalog.get(productCode);
    if (!product) throw new DomainRejection('INVALID_REQUEST', `unknown product ${productCode}`, { field: 'product' });
    const r = await sql(this.infra.ds, 'SELECT 1 FROM accounts WHERE account_id = $1', [account]);
    if (!r.rows.length) throw new DomainRejection('NOT_FOUND', `unknown account ${account}`, { field: 'account' });
    return product;
  }

  private async limitsOf(account: string): Promise<AccountLimits> {
    // Risk's public read model of the account's settings (its risk_state is its own).
    const r = await sql<{ value: AccountLimits }>(this.infra.ds, 'SELECT value FROM account_limits WHERE account_id = $1', [account]);
    return readAccountLimits(r.rows[0]?.value);
  }

  /**
   * Publishes the command; with wait=true, polls the log for the event risk writes under the
   * command's correlation id (from the head at publication, so the lookup is a short seq range).
   */
  private async send<T extends 'SetPositionLimits' | 'GrantHedgeExemption'>(
    account: string,
    type: T,
    payload: CommandPayload<T>,
    outcome: 'PositionLimitsSet' | 'HedgeExemptionGranted',
    who: Principal,
    eventTime: string | undefined,
    wait: string | undefined,
  ): Promise<{ at: string; payload: Record<string, unknown> } | null> {
    const correlationId = randomUUID();
    const from = wait === 'true' ? await lastSeq(this.infra.ds) : 0;
    await this.commands.publish('orders', account, type, withEventTime(payload, eventTime), actorOf(who), correlationId);
    if (wait !== 'true') return null;
    return pollUntil(async () => {
      const r = await sql<{ at: string; payload: Record<string, unknown> }>(
        this.infra.ds,
        `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, payload FROM event_log WHERE seq > $1 AND correlation_id = $2 AND type = $3 LIMIT 1`,
        [from, correlationId, outcome],
      );
      return r.rows[0] ?? null;
    }, WAIT_MS);
  }
}
