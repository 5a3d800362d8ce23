import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FixedWindowLimiter } from './fixed-window.limiter';

describe('FixedWindowLimiter', () => {
  it('lets max calls of a key through per window, counts keys apart, and starts again with the next window', () => {
    let now = 1_000;
    const limiter = new FixedWindowLimiter(2, 60_000, { now: () => new Date(now) });
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('b')], [true, true, false, true]);
    now += 59_999;
    assert.equal(limiter.take('a'), false);
    now += 1;
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [true, true, false]);
  });
});
