/**
 * Input no route may see: strings Postgres' UTF8 text refuses (a NUL byte, an unpaired UTF-16
 * surrogate) and JSON nested deeper than any request needs (50,000 nested arrays overflow the
 * stack of the validation pipe's recursive transform). Checked for every route, on the path
 * parameters, the query and the parsed body, in a Fastify preValidation hook: after parsing and
 * before Nest runs the guards (whose account-ownership check queries the database), the pipes
 * and the handler. A new route is covered without doing anything.
 *
 * The walk is iterative (an explicit stack), so it cannot overflow on the input it refuses.
 */

/** Deepest nesting of objects/arrays a request body may have (the API's deepest body, an index publication's providers, needs 3). */
export const MAX_INPUT_DEPTH = 32;

/** NUL, or a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface InputProblem {
  /** The offending field: a parameter's or query name, or a dotted path into the body. */
  field?: string;
  message: string;
}

export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

interface Node {
  value: unknown;
  depth: number;
  key: string | null;
  parent: Node | null;
}

function pathOf(node: Node | null): string[] {
  const path: string[] = [];
  for (let n = node; n && n.key !== null; n = n.parent) path.push(n.key);
  return path.reverse();
}

function field(path: string[]): { field?: string } {
  return path.length ? { field: path.join('.') } : {};
}

/**
 * The first problem in a value (a parsed JSON body, the params or the query object), or null.
 * The params' and the query's keys are their names, so their problems name them as the field.
 */
export function findInputProblem(root: unknown, maxDepth: number = MAX_INPUT_DEPTH): InputProblem | null {
  const stack: Node[] = [{ value: root, depth: 0, key: null, parent: null }];
  while (stack.length) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value === 'string') {
      if (!isStorableText(value))
        return { ...field(pathOf(node)), message: `${pathOf(node).join('.') || 'value'} must be UTF-8 text without NUL bytes or unpaired surrogates` };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (node.depth >= maxDepth) {
      // name the top-level field: the full path of a deep value says nothing more
      return { ...field(pathOf(node).slice(0, 1)), message: `request is nested too deeply (at most ${maxDepth} levels)` };
    }
    const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (!isStorableText(key)) return { ...field(pathOf(node)), message: 'a property name must be UTF-8 text without NUL bytes or unpaired surrogates' };
      stack.push({ value: child, depth: node.depth + 1, key, parent: node });
    }
  }
  return null;
}

/**
 * The URL with every percent-escape run of its path that is not UTF-8 (`%FF`, an encoded lone
 * surrogate `%ED%A0%80`, a stray `%`) turned into `%00`. Used as Fastify's `rewriteUrl`, before
 * routing: the router cannot decode such a parameter and would answer with a body of its own; as
 * a NUL it reaches the route, whose guard refuses it with the route's reason and the field.
 */
export function rewriteUndecodableUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!path.includes('%')) return url;
  try {
    decodeURIComponent(path);
    return url;
  } catch {
    const fixed = path
      .replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
        try {
          decodeURIComponent(run);
          return run;
        } catch {
          return '%00';
        }
      })
      .replace(/%(?![0-9A-Fa-f]{2})/g, '%00');
    return fixed + (q < 0 ? '' : url.slice(q));
  }
}

/** The first problem in a request's path parameters, query or body, in that order. */
export function findRequestInputProblem(request: { params?: unknown; query?: unknown; body?: unknown }): InputProblem | null {
  return findInputProblem(request.params) ?? findInputProblem(request.query) ?? findInputProblem(request.body);
}
