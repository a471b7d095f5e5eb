/**
 * Operations: admit members with their accounts and API keys, list instruments, record deposits.
 * Every change is an event in the log with the operator who caused it.
 */
import { Body, Controller, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import {
  finalSettlementTicks,
  formatCents,
  formatTicks,
  isBoundedPrice,
  isCashAmount,
  lastTradingDay,
  MAX_ACCOUNT_CASH_CENTS,
  MAX_CASH_AMOUNT_TEXT,
  listedContracts,
  MAX_PRICE_TEXT,
  parseCents,
  parsePriceToTicks,
  ProductCatalog,
  type ProductSpec,
} from '@ch/domain';
import { formatE4 } from '@ch/rulebook';
import { eventToWire, formatInstant, SCHEMA_VERSIONS, type EventOf } from '@ch/messages';
import { appendEvents, sql } from '@ch/persistence';
import { CurrentPrincipal, DomainRejection, generateApiKey, hashApiKey, Roles, API_KEY_SECURITY_NAME, type Principal } from '@ch/platform';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import type { EntityManager } from 'typeorm';
import { CommandPublisher } from './commands';
import { CreateMemberDto, DepositDto, ListInstrumentDto } from './dto';
import { EVENT_TIME_DOC, EventTime, withEventTime } from './event-time';

export const REFERENCE_STREAM = 'reference-data';
/** The transaction-scoped advisory lock that serialises member admissions. */
const MEMBER_ADMISSION_LOCK = 'ops:member-admission';
/** Matching's stream for an instrument, where its InstrumentListed is logged. */
const matchingStream = (symbol: string): string => `matching:${symbol}`;

export function actorOf(p: Principal): string {
  return p.role === 'member' ? `member:${p.memberId}` : `${p.role}:${p.keyId}`;
}

/** A deposit's or withdrawal's amount in cents: positive, whole cents, at most MAX_CASH_AMOUNT (400 otherwise). */
export function cashAmount(text: string): number {
  let cents: number;
  try {
    cents = parseCents(text);
  } catch {
    throw new DomainRejection('INVALID_REQUEST', `amount must be a positive amount in whole cents, at most ${MAX_CASH_AMOUNT_TEXT}`, { field: 'amount' });
  }
  if (!isCashAmount(cents)) throw new DomainRejection('INVALID_REQUEST', `amount must be positive and at most ${MAX_CASH_AMOUNT_TEXT}`, { field: 'amount' });
  return cents;
}

/** Appends reference-data events; the stream head row lock serialises intake instances. */
async function logReferenceEvents(
  m: EntityManager,
  actor: string,
  atMs: number,
  events: readonly (EventOf<'MemberAdmitted'> | EventOf<'ApiKeyIssued'>)[],
): Promise<void> {
  const r = await sql<{ last_seq: string }>(
    m,
    `INSERT INTO stream_heads (stream, last_seq) VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE SET last_seq = stream_heads.last_seq + $2 RETURNING last_seq`,
    [REFERENCE_STREAM, events.length],
  );
  const first = Number(r.rows[0].last_seq) - events.length + 1;
  const at = formatInstant(atMs);
  const correlationId = randomUUID();
  await appendEvents(
    m,
    events.map((e, i) => ({
      type: e.type,
      version: SCHEMA_VERSIONS[e.type],
      stream: REFERENCE_STREAM,
      streamSeq: first + i,
      at,
      actor,
      correlationId,
      payload: eventToWire(e),
    })),
  );
}

export async function pollUntil<T>(fn: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

@ApiTags('operations')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('ops')
export class OpsController {
  private readonly catalog = new ProductCatalog();

  constructor(
    @Inject(INFRASTRUCTURE) private readonly infra: Infrastructure,
    private readonly commands: CommandPublisher,
  ) {}

  @Post('members')
  @Roles('operations')
  @ApiOperation({ summary: 'Admit a member with its accounts; returns the member’s first API key (shown once)' })
  async createMember(@Body() dto: CreateMemberDto, @CurrentPrincipal() who: Principal) {
    if (new Set(dto.accounts).size !== dto.accounts.length) throw new DomainRejection('INVALID_REQUEST', 'duplicate account ids', { field: 'accounts' });
    const apiKey = generateApiKey();
    const keyId = `key-${randomUUID()}`;
    await this.infra.ds.transaction(async (m) => {
      // Admissions one at a time (across intake instances): the checks below then see every
      // admission committed before, and concurrent duplicates get the 409 sequential ones get.
      await sql(m, 'SELECT pg_advisory_xact_lock(hashtext($1))', [MEMBER_ADMISSION_LOCK]);
      const exists = await sql(m, 'SELECT 1 FROM members WHERE member_id = $1', [dto.memberId]);
      if (exists.rows.length) throw new DomainRejection('CONFLICT', `member ${dto.memberId} already exists`, { field: 'memberId' });
      const taken = await sql<{ account_id: string }>(m, 'SELECT account_id FROM accounts WHERE account_id = ANY($1)', [dto.accounts]);
      if (taken.rows.length) throw new DomainRejection('CONFLICT', `account ${taken.rows[0].account_id} already exists`, { field: 'accounts' });
      await sql(m, 'INSERT INTO members (member_id, name, created_at) VALUES ($1, $2, now())', [dto.memberId, dto.name ?? dto.memberId]);
      await sql(m, 'INSERT INTO accounts (account_id, member_id, created_at) SELECT a, $1, now() FROM unnest($2::text[]) AS a', [dto.memberId, dto.accounts]);
      await sql(
        m,
        `INSERT INTO api_keys (key_id, key_hash, role, member_id, label, active, created_at) VALUES ($1, $2, 'member', $3, 'first key', true, now())`,
        [keyId, hashApiKey(apiKey), dto.memberId],
      );
      const at = Date.now();
      await logReferenceEvents(m, actorOf(who), at, [
        { type: 'MemberAdmitted', at, member: dto.memberId, accounts: dto.accounts },
        { type: 'ApiKeyIssued', at, member: dto.memberId, keyId },
      ]);
    });
    return { memberId: dto.memberId, accounts: dto.accounts, apiKey, keyId };
  }

  @Post('instruments')
  @Roles('operations')
  @ApiOperation({
    summary:
      'List a contract with its reference price (SPEC §3), or without one from the product’s latest index value (source index); waits until matching has opened its book',
  })
  @ApiHeader(EVENT_TIME_DOC)
  async listInstrument(@Body() dto: ListInstrumentDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string) {
    const product = this.catalog.forSymbol(dto.symbol);
    if (!product) throw new DomainRejection('UNKNOWN_INSTRUMENT', `no product for ${dto.symbol}`, { field: 'symbol' });
    // The listing calendar of the listing's day: its event time's when one is given.
    const today = (eventTime ?? new Date().toISOString()).slice(0, 10);
    if (!listedContracts(product, today).includes(dto.symbol)) {
      throw new DomainRejection('INVALID_REQUEST', `${dto.symbol} is not on the ${product.code} listing calendar on ${today}`, { field: 'symbol' });
    }
    let ticks: number;
    let fromIndex: { index: string; at: string; value: string } | null = null;
    if (dto.referencePrice !== undefined) {
      const price = parsePriceToTicks(dto.referencePrice, product.tickCents);
      if (!price.ok)
        throw new DomainRejection(
          price.reason === 'INVALID_TICK' ? 'INVALID_TICK' : 'INVALID_REQUEST',
          'referencePrice must be a positive price in whole ticks',
          { field: 'referencePrice' },
        );
      if (!isBoundedPrice(price.ticks))
        throw new DomainRejection('INVALID_REQUEST', `referencePrice must be at most ${MAX_PRICE_TEXT}`, { field: 'referencePrice' });
      ticks = price.ticks;
    } else {
      ({ ticks, fromIndex } = await this.referenceFromIndex(product, eventTime ?? new Date().toISOString()));
    }
    const existing = await sql(this.infra.ds, 'SELECT 1 FROM instruments WHERE symbol = $1', [dto.symbol]);
    if (existing.rows.length) throw new DomainRejection('CONFLICT', `${dto.symbol} is already listed`, { field: 'symbol' });
    const command = await this.commands.publish(
      'matchingCommands',
      dto.symbol,
      'ListInstrument',
      withEventTime(
        {
          instrument: dto.symbol,
          referencePrice: formatTicks(ticks, product.tickCents),
          lastTradingDay: lastTradingDay(dto.symbol),
          source: fromIndex ? 'index' : 'operations',
        },
        eventTime,
      ),
      actorOf(who),
    );
    // Matching lists a symbol once and ignores every later ListInstrument for it. Which command
    // listed it is the listing event's cause: a concurrent request whose command lost gets the
    // 409 it would have got after the winner, never "listed" with a price that was not listed.
    const listing = await pollUntil(async () => {
      const r = await sql<{ causation_id: string | null }>(
        this.infra.ds,
        `SELECT causation_id FROM event_log WHERE stream = $1 AND type = 'InstrumentListed' ORDER BY stream_seq LIMIT 1`,
        [matchingStream(dto.symbol)],
      );
      return r.rows[0] ?? null;
    }, 10_000);
    if (listing && listing.causation_id !== command.eventId) throw new DomainRejection('CONFLICT', `${dto.symbol} is already listed`, { field: 'symbol' });
    return {
      symbol: dto.symbol,
      referencePrice: formatTicks(ticks, product.tickCents),
      lastTradingDay: lastTradingDay(dto.symbol),
      source: fromIndex ? 'index' : 'operations',
      ...(fromIndex ? { indexValue: fromIndex } : {}),
      status: listing ? 'listed' : 'pending',
    };
  }

  /**
   * SPEC §3: a listing without a reference price takes the product's latest index value at or
   * before the listing's event time, rounded half up to the tick as a final settlement price is.
   */
  private async referenceFromIndex(product: ProductSpec, asOf: string): Promise<{ ticks: number; fromIndex: { index: string; at: string; value: string } }> {
    const r = await sql<{ value_e4: string; at: string }>(
      this.infra.ds,
      `SELECT value_e4, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM index_values
        WHERE index_code = $1 AND at <= $2 ORDER BY at DESC, seq DESC LIMIT 1`,
      [product.settlementIndex, asOf],
    );
    const row = r.rows[0];
    if (!row) {
      throw new DomainRejection('INVALID_REQUEST', `no referencePrice given and no ${product.settlementIndex} value published at or before ${asOf}`, {
        field: 'referencePrice',
        httpStatus: 422,
      });
    }
    const value = formatE4(Number(row.value_e4));
    try {
      return { ticks: finalSettlementTicks(value, product.tickCents), fromIndex: { index: product.settlementIndex, at: row.at, value } };
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new DomainRejection('INVALID_REQUEST', `the latest ${product.settlementIndex} value ${value} is not a price in whole ticks; give referencePrice`, {
        field: 'referencePrice',
        httpStatus: 422,
      });
    }
  }

  @Post('deposits')
  @HttpCode(202)
  @Roles('operations')
  @ApiOperation({ summary: 'Record collateral received for an account; with wait=true, answers once the cash ledger shows it' })
  @ApiHeader(EVENT_TIME_DOC)
  async deposit(@Body() dto: DepositDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string, @Query('wait') wait?: string) {
    const cents = cashAmount(dto.amount);
    const owner = await sql(this.infra.ds, 'SELECT 1 FROM accounts WHERE account_id = $1', [dto.account]);
    if (!owner.rows.length) throw new DomainRejection('NOT_FOUND', `unknown account ${dto.account}`, { field: 'account' });
    // Clearing refuses a deposit past the account's bound (DepositRejected); say so at once when the balance shows it.
    const held = await sql<{ balance: string }>(this.infra.ds, 'SELECT balance FROM cash_balances WHERE account_id = $1', [dto.account]);
    if (BigInt(held.rows[0]?.balance ?? '0') + BigInt(cents) > BigInt(MAX_ACCOUNT_CASH_CENTS)) {
      throw new DomainRejection('INVALID_REQUEST', `the deposit would take ${dto.account}'s balance past ${MAX_CASH_AMOUNT_TEXT}`, {
        field: 'amount',
        httpStatus: 422,
      });
    }
    const reference = `deposit-${randomUUID()}`;
    await this.commands.publish(
      'clearingCommands',
      dto.account,
      'Deposit',
      withEventTime({ account: dto.account, amount: formatCents(cents), reference }, eventTime),
      actorOf(who),
    );
    if (wait === 'true') {
      const balance = await pollUntil(async () => {
        const r = await sql<{ balance_after: string }>(this.infra.ds, 'SELECT balance_after FROM cash_ledger WHERE reference = $1', [reference]);
        return r.rows[0] ? formatCents(Number(r.rows[0].balance_after)) : null;
      }, 10_000);
      return { reference, account: dto.account, amount: formatCents(cents), status: balance === null ? 'pending' : 'posted', ...(balance ? { balance } : {}) };
    }
    return { reference, account: dto.account, amount: formatCents(cents), status: 'pending' };
  }
}
