import type { FastifyInstance } from 'fastify';
import { MALFORMED_JSON } from '../../http-edge/markers';

/**
 * How deep arrays and objects in a request body may nest. The contract's deepest body has 3
 * levels; class-transformer and class-validator recurse once a level, so a body of thousands of
 * levels (a few KiB) would overflow the stack and answer 500.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `value` nests arrays and objects more than `limit` levels deep; walks without recursion. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null || ArrayBuffer.isView(node)) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A body nested too deeply is marked as malformed JSON rather than refused here, so that it is
 * judged where the body is validated, after the token, in the order the contract gives.
 */
export function limitJsonDepth(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    if (jsonDepthExceeds(request.body, MAX_JSON_DEPTH)) {
      request.body = { [MALFORMED_JSON]: `arrays and objects nest deeper than ${MAX_JSON_DEPTH} levels` };
    }
    done();
  });
}
