import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from './load.driver';

/** What the disk under a folder does with small durable writes, measured while nothing else runs. */
export interface DiskProbe {
  seconds: number;
  writeBytes: number;
  writes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Writes that took longer than STALL_MS. */
  stalls: number;
}

/** A durable write slower than this holds every request of a group commit for that long. */
export const STALL_MS = 20;
/** About what one group commit adds to the write-ahead log. */
const WRITE_BYTES = 16 * 1024;

/**
 * Writes WRITE_BYTES and waits for fdatasync, over and over for `seconds`, in a file of its own
 * in `dir`: the same kind of wait every acknowledged write of the service includes. A virtual disk
 * that stalls now and then sets the p99 of every durable service on it, whatever the service does.
 */
export function probeDisk(dir: string, seconds: number): DiskProbe {
  const file = join(dir, 'disk-probe.bin');
  const fd = openSync(file, 'w');
  const buffer = Buffer.alloc(WRITE_BYTES, 0x5a);
  const latencies: number[] = [];
  try {
    const end = performance.now() + seconds * 1000;
    for (let offset = 0; performance.now() < end; offset = (offset + WRITE_BYTES) % (16 * 2 ** 20)) {
      const start = performance.now();
      writeSync(fd, buffer, 0, WRITE_BYTES, offset);
      fdatasyncSync(fd);
      latencies.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    seconds,
    writeBytes: WRITE_BYTES,
    writes: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    stalls: latencies.filter((ms) => ms > STALL_MS).length,
  };
}
