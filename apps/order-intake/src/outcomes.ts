/**
 * Follows matching-events and risk-events (a plain consumer from the end of the topics: this is
 * notification, not state) to answer requests that wait for an order's outcome and to push
 * execution reports to members over server-sent events.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable, filter } from 'rxjs';
import { randomUUID } from 'node:crypto';
import { decodeEnvelope, decodeEvent, topicName } from '@ch/messages';
import type { Consumer } from '@ch/kafka';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';
import { memberExecution, tradeFromEvent } from './member-view';

export interface ExecutionReport {
  type: string;
  account: string;
  payload: Record<string, unknown>;
}

/** What a request waits for: the outcome of its own command. */
export type CommandKind = 'new' | 'replace' | 'cancel' | 'withdrawal';

interface Waiter {
  readonly kind: CommandKind;
  readonly resolve: (r: ExecutionReport) => void;
}

/**
 * Whether an event is the outcome of a command of this kind (the events a command causes carry
 * its correlation id, so only the kind has to be told apart from the trades, halts and the like it
 * also causes): a new order is accepted or rejected; a replace is done or rejected; a cancel
 * cancels the order (CANCELLED_BY_MEMBER) or is rejected.
 */
export function isOutcomeOf(kind: CommandKind, type: string, p: Record<string, unknown>): boolean {
  if (kind === 'withdrawal') return type === 'WithdrawalRejected';
  if (type === 'OrderRejected') return (p.command ?? 'new') === kind;
  switch (kind) {
    case 'new':
      // OrderRetried: risk's notice (published, not logged) that the order is an exact retry.
      return type === 'OrderAccepted' || type === 'OrderRetried';
    case 'replace':
      return type === 'OrderReplaced';
    case 'cancel':
      return type === 'OrderCancelled' && p.reason === 'CANCELLED_BY_MEMBER';
  }
}

@Injectable()
export class Outcomes implements OnApplicationShutdown {
  private consumer: Consumer | null = null;
  /** Set once the consumer holds its partitions: before that, outcomes could be missed. */
  ready = false;
  /** By the correlation id of the command being waited for. */
  private readonly waiters = new Map<string, Waiter>();
  private readonly reports = new Subject<ExecutionReport>();

  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  async start(): Promise<void> {
    const consumer = await this.infra.bus.consumer({
      groupId: `intake-outcomes-${randomUUID()}`,
      fromBeginning: false,
      onAssignment: () => (this.ready = true),
    });
    await consumer.subscribe([topicName('matchingEvents'), topicName('riskEvents')]);
    await consumer.run({
      eachBatch: async (batch) => {
        for (const m of batch.messages) {
          let env;
          try {
            env = decodeEnvelope(m.value);
          } catch {
            continue;
          }
          const p = env.payload as Record<string, unknown>;
          const reports = reportsOf(env.type, p);
          for (const r of reports) this.reports.next(r);
          const w = this.waiters.get(env.correlationId);
          if (w && isOutcomeOf(w.kind, env.type, p))
            w.resolve(reports[0] ?? { type: env.type, account: typeof p.account === 'string' ? p.account : '', payload: p });
        }
      },
    });
    this.consumer = consumer;
  }

  /**
   * Resolves with the outcome of the command published under `correlationId` (see isOutcomeOf),
   * or null after `timeoutMs`. Register before publishing, so the outcome cannot be missed.
   */
  waitFor(correlationId: string, kind: CommandKind, timeoutMs: number): { promise: Promise<ExecutionReport | null>; cancel: () => void } {
    let timer: NodeJS.Timeout;
    const promise = new Promise<ExecutionReport | null>((resolve) => {
      this.waiters.set(correlationId, {
        kind,
        resolve: (r) => {
          clearTimeout(timer);
          this.waiters.delete(correlationId);
          resolve(r);
        },
      });
      timer = setTimeout(() => {
        this.waiters.delete(correlationId);
        resolve(null);
      }, timeoutMs);
    });
    return { promise, cancel: () => (clearTimeout(timer), this.waiters.delete(correlationId)) };
  }

  /** Execution reports of one account, as they happen. */
  stream(account: string): Observable<ExecutionReport> {
    return this.reports.pipe(filter((r) => r.account === account));
  }

  async onApplicationShutdown(): Promise<void> {
    this.reports.complete();
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** The member-facing reports an event carries (a trade reports to both sides, each its own). */
export function reportsOf(type: string, p: Record<string, unknown>): ExecutionReport[] {
  switch (type) {
    case 'OrderAccepted':
    case 'OrderRejected':
    case 'OrderCancelled':
    case 'OrderExpired':
    case 'OrderReplaced':
      return typeof p.account === 'string' ? [{ type, account: p.account, payload: p }] : [];
    case 'Trade': {
      // Each side is told of its own order only (member-view.ts): never the other side's account,
      // clientOrderId, orderId or leaves quantity.
      const trade = tradeFromEvent(decodeEvent('Trade', p));
      return [trade.buy.account, trade.sell.account].map((account) => ({ type: 'Fill', account, payload: { ...memberExecution(trade, account) } }));
    }
    case 'MarginCallIssued':
    case 'WithdrawalRejected':
      return typeof p.account === 'string' ? [{ type, account: p.account, payload: p }] : [];
    default:
      return [];
  }
}
