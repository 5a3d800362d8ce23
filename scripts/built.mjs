#!/usr/bin/env node
// Compiles the project only when dist/ is missing or older than a source file, so that the
// command-line tools (`npm run token`, `npm run projections`) answer at once once built.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
// tsc rewrites its build info on every build that changed anything, but not the outputs that did
// not change: the build info's time is the time of the last build.
const marker = join(root, 'dist', '.tsbuildinfo');
const outputs = ['token.js', 'projections.js'].map((name) => join(root, 'dist', 'scripts', name));

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const sources = Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'scripts')), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!existsSync(marker) || outputs.some((path) => !existsSync(path)) || statSync(marker).mtimeMs < sources) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
