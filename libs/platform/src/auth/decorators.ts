import { createParamDecorator, type ExecutionContext, SetMetadata, applyDecorators } from '@nestjs/common';
import { type Principal, type Role } from './types';

export const ROLES_KEY = 'ch:roles';
export const PUBLIC_KEY = 'ch:public';
export const ACCOUNT_SCOPE_KEY = 'ch:accountScope';
/** Property of the (Fastify) request the authenticated principal is stored under. */
export const PRINCIPAL_REQUEST_KEY = 'principal';

/**
 * Roles allowed on a route (handler or controller; the handler wins). Routes with neither
 * `@Roles()` nor `@Public()` are denied (403) — authorisation is opt-in, never by accident.
 */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** No API key needed (health, metrics only). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export interface AccountScope {
  /** Name of the field holding the account id. */
  name: string;
  /** Where to read it: route params (default), query string or JSON body. */
  from: 'params' | 'query' | 'body';
}

/**
 * The route names an account: the guard checks (after authentication and roles) that a member
 * caller owns it (403 otherwise; see README). E.g. `@AccountScoped('accountId')` for
 * `/accounts/:accountId/positions`, `@AccountScoped('accountId', 'body')` for order submission.
 */
export const AccountScoped = (name = 'accountId', from: AccountScope['from'] = 'params') =>
  applyDecorators(SetMetadata(ACCOUNT_SCOPE_KEY, { name, from } satisfies AccountScope));

/** The authenticated caller (undefined on @Public routes). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal | undefined => {
  const req = ctx.switchToHttp().getRequest<Record<string, unknown>>();
  return req[PRINCIPAL_REQUEST_KEY] as Principal | undefined;
});
