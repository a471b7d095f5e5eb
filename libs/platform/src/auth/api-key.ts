import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'chk_';
/** Longest header value we even try to hash; anything longer is rejected outright. */
export const MAX_API_KEY_LENGTH = 256;

/** SHA-256 of the key (UTF-8), lowercase hex. This is what ApiKeyStore keeps and looks up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random key: `chk_` + 32 random bytes base64url (256 bits of entropy). Show it once, store only its hash. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** The x-api-key header value if it is usable (one, non-empty, bounded), else undefined. */
export function readApiKeyHeader(headers: Record<string, unknown> | undefined): string | undefined {
  const raw = headers?.['x-api-key'];
  if (typeof raw !== 'string') return undefined; // absent, or repeated (array)
  const key = raw.trim();
  if (key.length === 0 || key.length > MAX_API_KEY_LENGTH) return undefined;
  return key;
}
