/**
 * The exhaustive check of a switch over a union: `default: return assertNever(x)` compiles only
 * when every member of the union has its case, so a new event or command type is a compile error
 * at every switch that must handle it.
 */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
