#!/usr/bin/env node
// `npm run start:dev`: tsc in watch mode; after each compile without errors the service is
// restarted (SIGTERM, so it closes its store cleanly, then started again on the new build).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let service = null;
let stopping = false;

function startService() {
  service = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { stdio: 'inherit', cwd: root });
  const started = service;
  started.on('exit', (code, signal) => {
    if (service === started) {
      service = null;
      if (!stopping) console.error(`[dev] the service exited (${signal ?? `code ${code}`}); it starts again on the next change`);
    }
  });
}

function restart() {
  const old = service;
  service = null;
  if (!old) return startService();
  old.once('exit', startService);
  old.kill('SIGTERM');
}

const watcher = spawn(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--watch', '--preserveWatchOutput'], { cwd: root });
watcher.stderr.pipe(process.stderr);
let buffered = '';
watcher.stdout.on('data', (chunk) => {
  process.stderr.write(chunk);
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop();
  for (const line of lines) {
    const found = /Found (\d+) errors?\. Watching for file changes/.exec(line);
    if (!found) continue;
    if (found[1] === '0') restart();
    else console.error('[dev] not restarted: fix the errors above');
  }
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    watcher.kill();
    if (service) service.once('exit', () => process.exit(0)).kill('SIGTERM');
    else process.exit(0);
  });
}
