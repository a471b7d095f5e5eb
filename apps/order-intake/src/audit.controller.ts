/**
 * The auditor's API (SPEC §1, §9): verify the event log's hash chain, replay it to any sequence
 * number or event time, compare the replay with the live projections, export the log. Read-only,
 * for the auditor and operations roles (an auditor key gets 403 on anything but GET).
 *
 * A replay reads the whole log (seconds per million events): one at a time per process, so an
 * auditor cannot crowd out the order path.
 */
import { Controller, Get, Inject, Module, Query, ServiceUnavailableException, StreamableFile } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { API_KEY_SECURITY_NAME, DomainRejection, Roles } from '@ch/platform';
import { consumerGroup, topicName } from '@ch/messages';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { anchorConfigFromEnv } from '@ch/runtime/anchors';
import {
  compareWithProjections,
  exportLogLines,
  parsePublicKey,
  parseStopTime,
  readAnchorsFromTopic,
  replayLog,
  verifyLog,
  verifyLogWithAnchors,
} from '@ch/audit';

/** A positive integer query parameter, or undefined when absent. */
function seqParam(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new DomainRejection('INVALID_REQUEST', `${field} must be a positive integer`, { field });
  return n;
}

/** Runs one replay at a time; the others wait their turn. */
class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

@ApiTags('audit')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Roles('auditor', 'operations')
@Controller('audit')
export class AuditController {
  private readonly replays = new OneAtATime();

  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  @Get('verify')
  @ApiOperation({
    summary:
      'Verify the hash chain of the whole event log; names the first broken link (gap, altered event, head mismatch). With anchors=topic, also checks the log against the signed anchors on the anchors topic (ADR 0013) and names the first that no longer holds',
  })
  @ApiQuery({
    name: 'anchors',
    required: false,
    enum: ['topic'],
    description: "'topic': check every anchor on the anchors topic with the public key in CH_ANCHOR_PUBLIC_KEY_FILE",
  })
  async verify(@Query('anchors') anchors?: string) {
    if (anchors === undefined || anchors === '') return this.replays.run(() => verifyLog(this.infra.ds));
    if (anchors !== 'topic')
      throw new DomainRejection(
        'INVALID_REQUEST',
        "anchors must be 'topic' (an auditor's own anchors file is checked with `npm run audit -- verify --anchors FILE`)",
        { field: 'anchors' },
      );
    const keyFile = anchorConfigFromEnv().publicKeyFile;
    let publicKey: KeyObject;
    try {
      publicKey = parsePublicKey(readFileSync(keyFile, 'utf8'));
    } catch (err) {
      // Not the request's fault: this deployment has no usable public key (503 SERVICE_UNAVAILABLE).
      throw new ServiceUnavailableException(`the anchors' public key ${keyFile} cannot be used: ${(err as Error).message}`);
    }
    return this.replays.run(async () => {
      const lines = await readAnchorsFromTopic(this.infra.bus, topicName('anchors'), consumerGroup('audit-anchors'));
      return { ...(await verifyLogWithAnchors(this.infra.ds, lines, publicKey)), source: topicName('anchors') };
    });
  }

  @Get('state')
  @ApiOperation({ summary: 'The state replayed from the log as of a sequence number (seq) or an event time (at); the whole log without either' })
  @ApiQuery({ name: 'seq', required: false, description: 'last event to replay (inclusive)' })
  @ApiQuery({ name: 'at', required: false, description: "ISO-8601 UTC event time: replays up to the first event stamped later ('2027-01-04T14:30:00.000Z')" })
  async state(@Query('seq') seqText?: string, @Query('at') atText?: string) {
    const toSeq = seqParam(seqText, 'seq');
    let at: number | undefined;
    if (atText !== undefined && atText !== '') {
      const parsed = parseStopTime(atText);
      if (parsed === null) throw new DomainRejection('INVALID_REQUEST', "at must be an ISO-8601 UTC instant ('2027-01-04T14:30:00.000Z')", { field: 'at' });
      at = parsed;
    }
    if (toSeq !== undefined && at !== undefined) throw new DomainRejection('INVALID_REQUEST', 'give seq or at, not both', { field: 'at' });
    const { state } = await this.replays.run(() =>
      replayLog(this.infra.ds, { ...(toSeq !== undefined ? { toSeq } : {}), ...(at !== undefined ? { at } : {}) }),
    );
    return state;
  }

  @Get('compare')
  @ApiOperation({
    summary:
      'Replay the whole log and compare with the live projections (positions, cash, margin, books, halts): every difference, and state hashes per account and per book',
  })
  async compare() {
    return this.replays.run(() => compareWithProjections(this.infra.ds));
  }

  @Get('export')
  @ApiOperation({ summary: 'The event log as JSON Lines (application/x-ndjson), streamed: every hashed field, so the export can be re-verified offline' })
  @ApiQuery({ name: 'fromSeq', required: false })
  @ApiQuery({ name: 'toSeq', required: false })
  exportLog(@Query('fromSeq') fromText?: string, @Query('toSeq') toText?: string): StreamableFile {
    const fromSeq = seqParam(fromText, 'fromSeq');
    const toSeq = seqParam(toText, 'toSeq');
    if (fromSeq !== undefined && toSeq !== undefined && toSeq < fromSeq)
      throw new DomainRejection('INVALID_REQUEST', 'toSeq must not be below fromSeq', { field: 'toSeq' });
    const lines = exportLogLines(this.infra.ds, { fromSeq, toSeq });
    return new StreamableFile(Readable.from(lines), { type: 'application/x-ndjson', disposition: 'attachment; filename="event-log.jsonl"' });
  }
}

/** Registered in main.ts through `metadata.imports`. */
@Module({ controllers: [AuditController] })
export class AuditModule {}
