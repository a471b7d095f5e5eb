/**
 * Test-only helpers: in-memory ports, a log capture stream and an in-process app factory.
 * Import from '@ch/platform/testing' in *.spec.ts / test code only.
 */
import type { TestingModule } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { generateApiKey, hashApiKey } from '../auth/api-key';
import { type AccountOwnership, type ApiKeyRecord, type ApiKeyStore, type Role } from '../auth/types';
import { configureHttpApp, createFastifyAdapter } from '../http/bootstrap';
import type { SwaggerSetupOptions } from '../http/swagger';

/** In-memory ApiKeyStore (for unit tests only): keeps hashes, like the real one. */
export class InMemoryApiKeyStore implements ApiKeyStore {
  private readonly byHash = new Map<string, ApiKeyRecord>();
  private seq = 0;
  /** Number of findByHash calls (to observe caching). */
  lookups = 0;

  /** Adds a key; returns the clear key (as shown once to its owner) and its id. */
  add(spec: { role: Role; memberId?: string; key?: string; active?: boolean; keyId?: string }): { key: string; keyId: string } {
    const key = spec.key ?? generateApiKey();
    const keyId = spec.keyId ?? `key-${++this.seq}`;
    const record: ApiKeyRecord = { keyId, role: spec.role, active: spec.active ?? true };
    if (spec.memberId !== undefined) record.memberId = spec.memberId;
    this.byHash.set(hashApiKey(key), record);
    return { key, keyId };
  }

  revoke(keyId: string): void {
    for (const r of this.byHash.values()) if (r.keyId === keyId) r.active = false;
  }

  async findByHash(sha256hex: string): Promise<ApiKeyRecord | null> {
    this.lookups++;
    const r = this.byHash.get(sha256hex);
    return r ? { ...r } : null;
  }
}

/** In-memory account → member map (for unit tests only). */
export class InMemoryAccountDirectory implements AccountOwnership {
  private readonly owners = new Map<string, string>();
  /** Number of ownerOf calls (to observe that a request was refused before any look-up). */
  lookups = 0;

  constructor(entries: Record<string, string> = {}) {
    for (const [account, member] of Object.entries(entries)) this.owners.set(account, member);
  }

  set(accountId: string, memberId: string): void {
    this.owners.set(accountId, memberId);
  }

  async ownerOf(accountId: string): Promise<string | null> {
    this.lookups++;
    return this.owners.get(accountId) ?? null;
  }
}

/** A pino destination stream that keeps every line (pass as `logging.stream`). */
export class CapturedLogs {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  get text(): string {
    return this.lines.join('');
  }

  /** Parsed JSON records. */
  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/**
 * A real Nest + Fastify app from a compiled testing module (which imports PlatformModule),
 * configured like production but not listening: use `app.inject()`.
 */
export async function createTestHttpApp(moduleRef: TestingModule, options: { swagger?: SwaggerSetupOptions } = {}): Promise<NestFastifyApplication> {
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(), { bufferLogs: true });
  configureHttpApp(app, { ...options, shutdownHooks: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}
