/** SPEC §1 roles. */
export const ROLES = ['member', 'operations', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** What an API key resolves to. A `member` key is bound to exactly one member firm. */
export interface ApiKeyRecord {
  keyId: string;
  role: Role;
  memberId?: string | null;
  active: boolean;
}

/** Looks API keys up by the SHA-256 (hex) of the key. Keys are never stored in clear. */
export interface ApiKeyStore {
  findByHash(sha256hex: string): Promise<ApiKeyRecord | null>;
}

/** Who owns an account (memberId), or null when the account does not exist. */
export interface AccountOwnership {
  ownerOf(accountId: string): Promise<string | null>;
}
/** Alias: the directory of accounts is what implements AccountOwnership. */
export type AccountDirectory = AccountOwnership;

/** The authenticated caller of a request. */
export interface Principal {
  keyId: string;
  role: Role;
  /** Set iff role === 'member'. */
  memberId?: string;
}

export const API_KEY_STORE = Symbol.for('ch.platform.API_KEY_STORE');
export const ACCOUNT_DIRECTORY = Symbol.for('ch.platform.ACCOUNT_DIRECTORY');
