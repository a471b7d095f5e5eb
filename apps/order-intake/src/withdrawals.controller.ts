/**
 * Withdrawals (SPEC §6) through the order path: a member asks for cash out of its account; intake
 * checks the form and publishes RequestWithdrawal on `orders` (keyed by account), risk applies the
 * withdrawal check against its replica (equity − amount ≥ worst-case IM, amount ≤ cash) and either
 * sends Withdrawal to clearing, which posts it to the cash ledger (CashWithdrawn), or logs
 * WithdrawalRejected on risk-events. With wait=true the answer is the posting, or 422 with the reason.
 */
import { Body, Controller, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { formatCents } from '@ch/domain';
import { sql } from '@ch/persistence';
import { AccountScoped, API_KEY_SECURITY_NAME, CurrentPrincipal, DomainRejection, Roles, type Principal } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { CommandPublisher } from './commands';
import { WithdrawalDto } from './dto';
import { EVENT_TIME_DOC, EventTime, withEventTime } from './event-time';
import { actorOf, cashAmount } from './ops.controller';
import { Outcomes } from './outcomes';
import { decodeEvent } from '@ch/messages';

const WAIT_MS = 5_000;

@ApiTags('accounts')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('accounts/:accountId')
export class WithdrawalsController {
  constructor(
    @Inject(INFRASTRUCTURE) private readonly infra: Infrastructure,
    private readonly commands: CommandPublisher,
    private readonly outcomes: Outcomes,
  ) {}

  @Post('withdrawals')
  @HttpCode(202)
  @Roles('member')
  @AccountScoped('accountId', 'params')
  @ApiOperation({
    summary: 'Withdraw cash. 202 once received; with wait=true, the posting (status posted, new balance) or 422 INSUFFICIENT_MARGIN with detail cash | margin',
  })
  @ApiQuery({ name: 'wait', required: false, enum: ['true', 'false'] })
  @ApiHeader(EVENT_TIME_DOC)
  async withdraw(
    @Param('accountId') accountId: string,
    @Body() dto: WithdrawalDto,
    @CurrentPrincipal() who: Principal,
    @EventTime() eventTime?: string,
    @Query('wait') wait?: string,
  ) {
    const cents = cashAmount(dto.amount);
    const reference = `withdrawal-${randomUUID()}`;
    const amount = formatCents(cents);
    const correlationId = randomUUID();
    const waiter = wait === 'true' ? this.outcomes.waitFor(correlationId, 'withdrawal', WAIT_MS) : null;
    try {
      await this.commands.publish(
        'orders',
        accountId,
        'RequestWithdrawal',
        withEventTime({ account: accountId, amount, reference }, eventTime),
        actorOf(who),
        correlationId,
      );
    } catch (e) {
      waiter?.cancel();
      throw e;
    }
    if (!waiter) return { reference, account: accountId, amount, status: 'received' };
    let settled = false;
    const posted = (async () => {
      const until = Date.now() + WAIT_MS;
      while (!settled && Date.now() < until) {
        const r = await sql<{ balance_after: string }>(this.infra.ds, 'SELECT balance_after FROM cash_ledger WHERE reference = $1', [reference]);
        if (r.rows[0]) return { posted: formatCents(Number(r.rows[0].balance_after)) };
        await new Promise((res) => setTimeout(res, 20));
      }
      return null;
    })();
    type Outcome = { posted: string } | { rejected: Record<string, unknown> } | null;
    const rejected: Promise<Outcome> = waiter.promise.then((r): Outcome | Promise<Outcome> => (r ? { rejected: r.payload } : posted));
    const first: Outcome = await Promise.race<Outcome>([posted, rejected]);
    settled = true;
    waiter.cancel();
    if (first && 'rejected' in first) {
      const p = decodeEvent('WithdrawalRejected', first.rejected);
      throw new DomainRejection(p.reason, `withdrawal rejected: ${p.reason} (${p.detail ?? ''})`);
    }
    if (first && 'posted' in first) return { reference, account: accountId, amount, status: 'posted', balance: first.posted };
    return { reference, account: accountId, amount, status: 'pending' };
  }
}
