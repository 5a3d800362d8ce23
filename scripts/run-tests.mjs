#!/usr/bin/env node
// Runs every compiled spec (dist/**/*.spec.js) with node's test runner, one file at a time so that
// suites that start servers do not compete for the two cores. Pass paths or substrings to narrow,
// and `!substring` to leave files out.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.spec.js') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const filters = args.filter((x) => !x.startsWith('!'));
const excluded = args.filter((x) => x.startsWith('!')).map((x) => x.slice(1));
const files = find('dist')
  .filter((f) => !f.startsWith(join('dist', 'node_modules')))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !excluded.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no spec files found under dist/ ${filters.length ? `matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
