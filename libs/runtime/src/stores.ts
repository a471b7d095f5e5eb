/**
 * Postgres-backed lookups for the platform's guards, shared by every service that serves
 * authenticated routes: API keys (stored as SHA-256 hashes) and which member owns an account.
 */
import { Inject, Injectable } from '@nestjs/common';
import { hashApiKey, type AccountOwnership, type ApiKeyRecord, type ApiKeyStore, type Role } from '@ch/platform';
import { sql } from '@ch/persistence';
import { INFRASTRUCTURE } from './service';
import type { Infrastructure } from './infrastructure';

@Injectable()
export class PgApiKeyStore implements ApiKeyStore {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  async findByHash(sha256hex: string): Promise<ApiKeyRecord | null> {
    const r = await sql<{ key_id: string; role: Role; member_id: string | null; active: boolean }>(
      this.infra.ds,
      'SELECT key_id, role, member_id, active FROM api_keys WHERE key_hash = $1',
      [sha256hex],
    );
    const row = r.rows[0];
    return row ? { keyId: row.key_id, role: row.role, memberId: row.member_id, active: row.active } : null;
  }
}

@Injectable()
export class PgAccountDirectory implements AccountOwnership {
  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  async ownerOf(accountId: string): Promise<string | null> {
    const r = await sql<{ member_id: string }>(this.infra.ds, 'SELECT member_id FROM accounts WHERE account_id = $1', [accountId]);
    return r.rows[0]?.member_id ?? null;
  }
}

/** The platform ports of a service that authenticates against the clearinghouse database. */
export const PG_AUTH_PORTS = {
  apiKeyStore: { useClass: PgApiKeyStore },
  accountDirectory: { useClass: PgAccountDirectory },
} as const;

/**
 * Operations' first key comes from the environment (OPS_API_KEY; AUDITOR_API_KEY likewise), stored
 * hashed like any other. Re-running with the same key changes nothing.
 */
export async function installBootstrapKeys(infra: Infrastructure): Promise<void> {
  const keys: [string, Role, string | undefined][] = [
    ['bootstrap-operations', 'operations', process.env.OPS_API_KEY],
    ['bootstrap-auditor', 'auditor', process.env.AUDITOR_API_KEY],
  ];
  for (const [keyId, role, key] of keys) {
    if (!key) continue;
    await sql(
      infra.ds,
      `INSERT INTO api_keys (key_id, key_hash, role, member_id, label, active, created_at) VALUES ($1, $2, $3, NULL, $4, true, now())
       ON CONFLICT (key_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, active = true`,
      [keyId, hashApiKey(key), role, 'from the environment at start'],
    );
  }
}
