export interface ServedRoute {
  method: string;
  /** Fastify's form: `/v2/users/:userId`. */
  url: string;
}

/**
 * The routes in Fastify's `printRoutes({ commonPrefix: false })` tree. Each line is a node whose
 * text continues its parent's (4 characters of indentation a level), followed by the methods
 * served there:
 *   ├── /v2/users/:userId (DELETE, GET, HEAD)
 *   │   ├── /email (POST)
 */
export function parsePrintedRoutes(printed: string): ServedRoute[] {
  const routes: ServedRoute[] = [];
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    if (line.trim() === '') continue;
    const match = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) throw new Error(`unexpected line in printRoutes output: ${JSON.stringify(line)}`);
    const depth = [...match[1]].length / 4;
    stack.length = depth;
    const url = stack.join('') + match[2];
    stack.push(match[2]);
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method && method !== '-') routes.push({ method, url });
    }
  }
  return routes;
}

/** `/v2/users/:userId` as OpenAPI writes it: `/v2/users/{userId}`. */
export const toOpenApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');
