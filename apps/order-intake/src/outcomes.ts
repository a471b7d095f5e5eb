/**
 * Follows matching-events and risk-events (a plain consumer from the end of the topics: this is
 * notification, not state) to answer requests that wait for an order's outcome and to push
 * execution reports to members over server-sent events.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable, filter } from 'rxjs';
import { randomUUID } from 'node:crypto';
import { decodeEnvelope, topicName } from '@ch/messages';
import type { Consumer } from '@ch/kafka';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';

export interface ExecutionReport {
  type: string;
  account: string;
  payload: Record<string, unknown>;
}

type Waiter = (r: ExecutionReport) => void;

@Injectable()
export class Outcomes implements OnApplicationShutdown {
  private consumer: Consumer | null = null;
  private readonly waiters = new Map<string, Waiter>();
  private readonly reports = new Subject<ExecutionReport>();

  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  async start(): Promise<void> {
    const consumer = await this.infra.bus.consumer({ groupId: `intake-outcomes-${randomUUID()}`, fromBeginning: false });
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
          for (const r of reportsOf(env.type, p)) {
            this.reports.next(r);
            const clientOrderId = r.payload.clientOrderId as string | undefined;
            if (clientOrderId && (r.type === 'OrderAccepted' || r.type === 'OrderRejected')) {
              const w = this.waiters.get(`${r.account}\u0000${clientOrderId}`);
              if (w) w(r);
            }
          }
        }
      },
    });
    this.consumer = consumer;
  }

  /** Resolves with the order's first outcome (accepted or rejected), or null after `timeoutMs`. */
  waitFor(account: string, clientOrderId: string, timeoutMs: number): { promise: Promise<ExecutionReport | null>; cancel: () => void } {
    const key = `${account}\u0000${clientOrderId}`;
    let timer: NodeJS.Timeout;
    const promise = new Promise<ExecutionReport | null>((resolve) => {
      this.waiters.set(key, (r) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        resolve(r);
      });
      timer = setTimeout(() => {
        this.waiters.delete(key);
        resolve(null);
      }, timeoutMs);
    });
    return { promise, cancel: () => (clearTimeout(timer), this.waiters.delete(key)) };
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

/** The member-facing reports an event carries (a trade reports to both sides). */
function reportsOf(type: string, p: Record<string, unknown>): ExecutionReport[] {
  switch (type) {
    case 'OrderAccepted':
    case 'OrderRejected':
    case 'OrderCancelled':
    case 'OrderExpired':
    case 'OrderReplaced':
      return typeof p.account === 'string' ? [{ type, account: p.account, payload: p }] : [];
    case 'Trade':
      return [
        { type: 'Fill', account: String(p.buyAccount), payload: { ...p, side: 'buy', clientOrderId: p.buyClientOrderId, leavesQty: p.buyLeavesQty } },
        { type: 'Fill', account: String(p.sellAccount), payload: { ...p, side: 'sell', clientOrderId: p.sellClientOrderId, leavesQty: p.sellLeavesQty } },
      ];
    case 'MarginCallIssued':
      return [{ type, account: String(p.account), payload: p }];
    default:
      return [];
  }
}
