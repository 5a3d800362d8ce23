import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config';

describe('EVENTSTORE_CONNECTION_STRING', () => {
  it('accepts a node, gossip seeds and DNS discovery, with or without credentials and options', () => {
    for (const value of [
      'esdb://127.0.0.1:2113?tls=false',
      'esdb://eventstore:2113?tls=false',
      'esdb://admin:changeit@node1:2113,node2:2113,node3:2113?tlsCAFile=/certs/ca.crt',
      'esdb+discover://admin:changeit@cluster.example.com:2113/?nodePreference=leader',
    ]) {
      assert.equal(loadConfig({ EVENTSTORE_CONNECTION_STRING: value }).eventStoreConnectionString, value);
    }
    assert.equal(loadConfig({}).eventStoreConnectionString, undefined);
  });

  it('refuses anything else, naming the variable and never echoing the value', () => {
    for (const value of ['esdb://', 'http://eventstore:2113', 'esdb://a b:2113', 'esdb://,node2:2113', 'esdb://admin:s3cret@', 'esdb://admin:s3cret@node1:2113,']) {
      assert.throws(
        () => loadConfig({ EVENTSTORE_CONNECTION_STRING: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === 'EVENTSTORE_CONNECTION_STRING' &&
          !error.message.includes('s3cret'),
        value,
      );
    }
  });
});
