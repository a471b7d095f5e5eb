/**
 * Index publication and history (SPEC §8). Operations publish TPI or GCI values from provider
 * inputs; the value is computed here with the domain's computeTpi/computeGci and written, in one
 * transaction, as an IndexPublished event on the `indices` stream and as its `index_values` row
 * (seq = the event's place in the log). Matching reads index_values at a contract's last trading
 * day cut-off, listings without a reference price read it too, and members read the history.
 *
 * No command goes through Kafka: nothing downstream has to sequence a publication against orders,
 * and the value is known when the request is answered.
 */
import { Body, Controller, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { computeGci, computeTpi, type IndexName, type IndexOutcome, type ProviderDetailBase } from '@ch/domain';
import { appendEvents, sql } from '@ch/persistence';
import { API_KEY_SECURITY_NAME, CurrentPrincipal, DomainRejection, Roles, type Principal } from '@ch/platform';
import { eventToWire, formatE4, formatInstant, parseInstant, type IndexPublished } from '@ch/rulebook';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { PublishIndexDto } from './dto';
import { EVENT_TIME_DOC, EventTime } from './event-time';
import { isIndexName, readIndexRows } from './index-input';
import { actorOf } from './ops.controller';

export const INDEX_STREAM = 'indices';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

interface IndexRow {
  index_code: IndexName;
  at: string;
  value_e4: string;
  providers: number;
  qualified: number;
}

const COLUMNS = `index_code, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, value_e4, providers, qualified`;

function entry(r: IndexRow) {
  return { index: r.index_code, at: r.at, value: formatE4(Number(r.value_e4)), providers: r.providers, qualified: r.qualified };
}

function indexParam(index: string): IndexName {
  if (!isIndexName(index)) throw new DomainRejection('INVALID_REQUEST', 'index must be TPI or GCI', { field: 'index' });
  return index;
}

@ApiTags('indices')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller()
export class IndicesController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Post('ops/indices/:index')
  @Roles('operations')
  @ApiOperation({
    summary:
      'Publish a TPI or GCI value from provider inputs (SPEC §8). 201 with the value (4 decimals) and each provider’s adjusted price and weight; 422 INDEX_NOT_PUBLISHED (details.code TOO_FEW_PROVIDERS, UNKNOWN_GPU, DUPLICATE_PROVIDER, INVALID_INPUT) publishes nothing',
  })
  @ApiHeader(EVENT_TIME_DOC)
  async publish(@Param('index') indexText: string, @Body() dto: PublishIndexDto, @CurrentPrincipal() who: Principal, @EventTime() eventTime?: string) {
    const index = indexParam(indexText);
    const form = readIndexRows(index, dto.providers);
    if (!form.ok) throw new DomainRejection('INVALID_REQUEST', form.message, { field: form.field });
    const outcome: IndexOutcome<ProviderDetailBase> = form.index === 'TPI' ? computeTpi(form.rows) : computeGci(form.rows);
    if (!outcome.ok) {
      const { index: _index, message, ...details } = outcome.refusal;
      throw new DomainRejection('INDEX_NOT_PUBLISHED', message, { details });
    }
    const p = outcome.publication;
    // The three scores travel with each TPI provider's figures, so the log alone recomputes the value.
    const details = p.providers.map((d, i) =>
      form.index === 'TPI' ? { ...d, mmlu: form.rows[i].mmlu, humaneval: form.rows[i].humaneval, gsm8k: form.rows[i].gsm8k } : d,
    );
    const atMs = parseInstant(eventTime ?? new Date().toISOString())!;
    const at = formatInstant(atMs);
    const actor = actorOf(who);
    const published: IndexPublished = {
      type: 'IndexPublished',
      at: atMs,
      index,
      valueE4: p.valueE4,
      providers: p.providers.length,
      qualified: p.qualifiedCount,
    };
    // eventToWire only converts the RulebookEvent's own fields; the extras have no price/time field names.
    const payload = { ...eventToWire(published), value: p.value, valueExact: p.valueExact, details };
    const seq = await this.infra.ds.transaction(async (m) => {
      // The stream head row lock serialises intake instances (as logReferenceEvents does).
      const head = await sql<{ last_seq: string }>(
        m,
        `INSERT INTO stream_heads (stream, last_seq) VALUES ($1, 1) ON CONFLICT (stream) DO UPDATE SET last_seq = stream_heads.last_seq + 1 RETURNING last_seq`,
        [INDEX_STREAM],
      );
      const [stored] = await appendEvents(m, [
        { type: 'IndexPublished', version: 1, stream: INDEX_STREAM, streamSeq: Number(head.rows[0].last_seq), at, actor, correlationId: randomUUID(), payload },
      ]);
      await sql(
        m,
        `INSERT INTO index_values (index_code, seq, at, value_e4, providers, qualified, inputs, published_by) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
        [index, stored.seq, at, p.valueE4, p.providers.length, p.qualifiedCount, JSON.stringify(form.rows), actor],
      );
      return stored.seq;
    });
    return { index, at, value: p.value, valueExact: p.valueExact, providers: p.providers.length, qualified: p.qualifiedCount, seq, details };
  }

  @Get('indices/:index')
  @Roles('member', 'operations', 'auditor')
  @ApiOperation({ summary: 'The index’s published values, newest first: {index, at, value, providers, qualified}' })
  @ApiQuery({ name: 'from', required: false, description: 'Only values published at or after this instant (ISO-8601 UTC)' })
  @ApiQuery({ name: 'to', required: false, description: 'Only values published at or before this instant (ISO-8601 UTC)' })
  @ApiQuery({ name: 'limit', required: false, description: `At most this many (default ${DEFAULT_LIMIT}, max ${MAX_LIMIT})` })
  async history(@Param('index') indexText: string, @Query('from') from?: string, @Query('to') to?: string, @Query('limit') limitText?: string) {
    const index = indexParam(indexText);
    const instant = (v: string | undefined, field: string): string | null => {
      if (v === undefined) return null;
      const ms = parseInstant(v);
      if (ms === null) throw new DomainRejection('INVALID_REQUEST', `${field} must be an ISO-8601 UTC instant such as 2027-01-04T14:30:00.000Z`, { field });
      return formatInstant(ms);
    };
    const fromAt = instant(from, 'from');
    const toAt = instant(to, 'to');
    let limit = DEFAULT_LIMIT;
    if (limitText !== undefined) {
      limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT)
        throw new DomainRejection('INVALID_REQUEST', `limit must be a whole number from 1 to ${MAX_LIMIT}`, { field: 'limit' });
    }
    const r = await sql<IndexRow>(
      this.infra.ds,
      `SELECT ${COLUMNS} FROM index_values
        WHERE index_code = $1 AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at <= $3)
        ORDER BY at DESC, seq DESC LIMIT $4`,
      [index, fromAt, toAt, limit],
    );
    return r.rows.map(entry);
  }

  @Get('indices/:index/latest')
  @Roles('member', 'operations', 'auditor')
  @ApiOperation({ summary: 'The index’s latest published value (404 NOT_FOUND before the first)' })
  async latest(@Param('index') indexText: string) {
    const index = indexParam(indexText);
    const r = await sql<IndexRow>(this.infra.ds, `SELECT ${COLUMNS} FROM index_values WHERE index_code = $1 ORDER BY at DESC, seq DESC LIMIT 1`, [index]);
    if (!r.rows[0]) throw new DomainRejection('NOT_FOUND', `no ${index} value has been published`);
    return entry(r.rows[0]);
  }
}
