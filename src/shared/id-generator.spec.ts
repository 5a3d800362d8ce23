import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SnowflakeIdGenerator } from './id-generator';

const at = (iso: string) => ({ now: () => new Date(iso) });
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('SnowflakeIdGenerator', () => {
  it('gives event ids that are UUIDv7 carrying the injected clock\'s millisecond', () => {
    const id = new SnowflakeIdGenerator(at('2026-11-27T01:02:03.456Z')).eventId();
    assert.match(id, UUID_V7);
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.equal(millis, Date.parse('2026-11-27T01:02:03.456Z'));
  });

  it('gives event ids that sort by the time they were made and never repeat', () => {
    let now = Date.parse('2026-11-27T00:00:00Z');
    const ids = new SnowflakeIdGenerator({ now: () => new Date(now) });
    const made: string[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 1000 === 0) now += 1;
      made.push(ids.eventId());
    }
    assert.equal(new Set(made).size, made.length);
    const firstOf = (ms: number) => made.slice(ms * 1000, ms * 1000 + 1000);
    // Within a millisecond the order is random; across milliseconds it follows the clock.
    assert.ok(firstOf(0).every((early) => firstOf(1).every((later) => early < later)));
    assert.ok(firstOf(1).every((early) => firstOf(2).every((later) => early < later)));
  });

  it('gives user ids of at most 19 digits that grow with time', () => {
    let now = Date.parse('2026-11-27T00:00:00Z');
    const ids = new SnowflakeIdGenerator({ now: () => new Date(now) });
    const first = ids.userId();
    now += 1;
    const second = ids.userId();
    assert.match(first, /^\d{1,19}$/);
    assert.ok(BigInt(second) > BigInt(first));
  });
});
