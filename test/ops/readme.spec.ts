import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

/** The sources, from dist/test/ops where this file runs. */
const ROOT = resolve(__dirname, '../../..');

describe("the README's operations section", () => {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const operations = readme.slice(readme.indexOf('## Operations'), readme.indexOf('\n## ', readme.indexOf('## Operations') + 1));

  it('has a row in its configuration table for every variable the service reads', () => {
    // Every variable is read in src/config/config.ts, through helpers that take its name.
    const source = readFileSync(resolve(ROOT, 'src/config/config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]));
    for (const m of source.matchAll(/env\.([A-Z][A-Z0-9_]*)/g)) read.add(m[1]);
    assert.ok(read.size >= 10 && read.has('RATE_LIMIT_PER_MINUTE'), `found only ${[...read].join(', ')}`);
    const documented = new Set([...operations.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]));
    assert.deepEqual([...read].filter((name) => !documented.has(name)).sort(), [], 'variables missing from the table');
  });

  it('covers health, metrics, logs and limits', () => {
    for (const heading of ['### Configuration', '### Health', '### Metrics', '### Logs', '### Limits']) {
      assert.ok(operations.includes(heading), `no ${heading}`);
    }
  });
});
