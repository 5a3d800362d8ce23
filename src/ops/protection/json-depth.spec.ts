import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepthExceeds } from './json-depth';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('the nesting limit of request bodies', () => {
  it('counts levels of objects and arrays, not scalars', () => {
    assert.equal(jsonDepthExceeds(1, 0), false);
    assert.equal(jsonDepthExceeds('x', 0), false);
    assert.equal(jsonDepthExceeds(undefined, 0), false);
    assert.equal(jsonDepthExceeds({}, 1), false);
    assert.equal(jsonDepthExceeds({}, 0), true);
    assert.equal(jsonDepthExceeds(nested(32), 32), false);
    assert.equal(jsonDepthExceeds(nested(33), 32), true);
  });

  it('finds the deep branch beside shallow ones', () => {
    assert.equal(jsonDepthExceeds({ a: 1, b: [1, 2], c: { d: nested(31) } }, 32), true);
    assert.equal(jsonDepthExceeds({ a: 1, b: [1, 2], c: { d: nested(30) } }, 32), false);
  });

  it('walks a body of 100,000 levels without overflowing the stack', () => {
    assert.equal(jsonDepthExceeds(nested(100_000), 32), true);
  });

  it('does not walk into the bytes of a raw body', () => {
    assert.equal(jsonDepthExceeds(Buffer.alloc(10), 1), false);
  });
});
