import { PATH_METADATA } from '@nestjs/common/constants';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { type InvalidInputCode } from './reasons';

/** Key under which the reason is stored in the Fastify route config (`request.routeOptions.config`). */
export const INVALID_INPUT_REASON_CONFIG_KEY = 'chInvalidInputReason';
const OWN_REASON = Symbol.for('ch.platform.invalidInputReason.own');

/**
 * Declares which code malformed input on a route is reported with: `INVALID_ORDER` for order
 * routes (SPEC §4), `INVALID_REQUEST` (the default) for everything else. Applies to validation
 * errors, malformed JSON, bad content types and other 400s raised before or by the pipes.
 *
 * Put it on a controller class (all its routes) or on a single handler (wins over the class).
 * It is stored in the Fastify route config, so it is known even for errors raised before Nest
 * runs the handler (e.g. a body that is not JSON). If you also use `@RouteConfig()` on the same
 * handler, place `@RouteConfig()` *below* this decorator (it is applied first, and merged).
 */
export function InvalidInputReason(reason: InvalidInputCode): ClassDecorator & MethodDecorator {
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor && typeof descriptor.value === 'function') {
      setReason(descriptor.value as object, reason);
      Reflect.defineMetadata(OWN_REASON, true, descriptor.value as object);
      return descriptor;
    }
    if (typeof target === 'function' && key === undefined) {
      const proto = (target as { prototype: object }).prototype;
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (name === 'constructor') continue;
        const d = Object.getOwnPropertyDescriptor(proto, name);
        const fn = d?.value as object | undefined;
        if (typeof fn !== 'function') continue;
        if (Reflect.getMetadata(OWN_REASON, fn)) continue; // a method-level declaration wins
        if (Reflect.getMetadata(PATH_METADATA, fn) === undefined) continue; // not a route
        setReason(fn, reason);
      }
    }
    return undefined;
  }) as ClassDecorator & MethodDecorator;
}

/** Shorthand for `@InvalidInputReason('INVALID_ORDER')`. */
export const OrderRoute = (): ClassDecorator & MethodDecorator => InvalidInputReason('INVALID_ORDER');

function setReason(fn: object, reason: InvalidInputCode): void {
  const existing = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, fn) as Record<string, unknown> | undefined) ?? {};
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...existing, [INVALID_INPUT_REASON_CONFIG_KEY]: reason }, fn);
}

/** Reads the route's declared reason from a Fastify request (undefined → INVALID_REQUEST). */
export function invalidInputReasonOf(request: unknown): InvalidInputCode {
  const config = (request as { routeOptions?: { config?: Record<string, unknown> } } | undefined)?.routeOptions?.config;
  const reason = config?.[INVALID_INPUT_REASON_CONFIG_KEY];
  return reason === 'INVALID_ORDER' ? 'INVALID_ORDER' : 'INVALID_REQUEST';
}
