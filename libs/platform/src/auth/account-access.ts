import { Inject, Injectable } from '@nestjs/common';
import { PLATFORM_OPTIONS, ResolvedPlatformOptions } from '../config';
import { DomainRejection } from '../errors/domain-rejection';
import { AsyncTtlCache } from './async-ttl-cache';
import { ACCOUNT_DIRECTORY, AccountOwnership, Principal } from './types';

/**
 * Checks that `principal` may touch `accountId`:
 * - no principal → 401 UNAUTHORIZED;
 * - member: the account must belong to its member, else 403 FORBIDDEN — also when the account
 *   does not exist, with the same message, so a member cannot probe which account ids exist;
 * - operations / auditor: any existing account; an unknown one → 404 NOT_FOUND (they may see
 *   everything, so there is nothing to hide). Auditors' writes are refused earlier by the guard.
 */
export async function assertAccountAccess(directory: AccountOwnership, principal: Principal | undefined, accountId: string): Promise<void> {
  if (!principal) throw new DomainRejection('UNAUTHORIZED', 'missing or invalid API key');
  if (typeof accountId !== 'string' || accountId.length === 0) {
    throw new DomainRejection('INVALID_REQUEST', 'accountId is required', { field: 'accountId' });
  }
  const owner = await directory.ownerOf(accountId);
  if (principal.role === 'member') {
    if (owner === null || owner !== principal.memberId) {
      throw new DomainRejection('FORBIDDEN', `account ${accountId} is not accessible to this member`);
    }
    return;
  }
  if (owner === null) throw new DomainRejection('NOT_FOUND', `unknown account ${accountId}`);
}

/**
 * Injectable form of {@link assertAccountAccess}, over a cached ACCOUNT_DIRECTORY: an account's
 * owner never changes, so known owners are cached (CH_ACCOUNT_CACHE_TTL_MS, default 60 s);
 * unknown accounts are not cached (a just-opened account works at once).
 */
@Injectable()
export class AccountAccessService implements AccountOwnership {
  private readonly cache: AsyncTtlCache<string | null>;

  constructor(@Inject(ACCOUNT_DIRECTORY) directory: AccountOwnership, @Inject(PLATFORM_OPTIONS) options: ResolvedPlatformOptions) {
    this.cache = new AsyncTtlCache<string | null>(
      (id) => directory.ownerOf(id),
      (owner) => (owner === null ? 0 : options.ownershipCacheTtlMs),
    );
  }

  ownerOf(accountId: string): Promise<string | null> {
    return this.cache.get(accountId);
  }

  assertAccountAccess(principal: Principal | undefined, accountId: string): Promise<void> {
    return assertAccountAccess(this, principal, accountId);
  }

  invalidate(accountId?: string): void {
    this.cache.invalidate(accountId);
  }
}

/** Default ACCOUNT_DIRECTORY: knows no account. */
export class NoAccountDirectory implements AccountOwnership {
  async ownerOf(): Promise<string | null> {
    return null;
  }
}
