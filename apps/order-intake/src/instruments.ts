/** Which instruments exist and whether they trade: a short-lived cache over `instruments`. */
import { Inject, Injectable } from '@nestjs/common';
import { sql } from '@ch/persistence';
import { INFRASTRUCTURE, type Infrastructure } from '@ch/runtime';

const TTL_MS = 500;

@Injectable()
export class InstrumentDirectory {
  private cache = new Map<string, { status: 'listed' | 'expired'; until: number }>();

  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  /** 'listed', 'expired', or null when never listed. A miss always asks the database. */
  async status(symbol: string): Promise<'listed' | 'expired' | null> {
    const c = this.cache.get(symbol);
    if (c && c.until > Date.now()) return c.status;
    const r = await sql<{ status: 'listed' | 'expired' }>(this.infra.ds, 'SELECT status FROM instruments WHERE symbol = $1', [symbol]);
    const status = r.rows[0]?.status ?? null;
    if (status) this.cache.set(symbol, { status, until: Date.now() + TTL_MS });
    return status;
  }
}
