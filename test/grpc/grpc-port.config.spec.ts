import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config';

describe('GRPC_PORT', () => {
  it('defaults to 8081, and takes 0 for a free port', () => {
    assert.equal(loadConfig({}).grpcPort, 8081);
    assert.equal(loadConfig({ GRPC_PORT: '0' }).grpcPort, 0);
    assert.equal(loadConfig({ GRPC_PORT: '9090' }).grpcPort, 9090);
  });

  it('refuses a value that is not a port, naming the variable', () => {
    for (const bad of ['grpc', '-1', '65536', '80.5']) {
      assert.throws(
        () => loadConfig({ GRPC_PORT: bad }),
        (error: unknown) => error instanceof ConfigError && error.variable === 'GRPC_PORT' && error.message.includes(bad),
      );
    }
  });

  it('refuses the HTTP port: gRPC over HTTP/2 needs its own', () => {
    assert.throws(
      () => loadConfig({ PORT: '9000', GRPC_PORT: '9000' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'GRPC_PORT',
    );
    assert.throws(() => loadConfig({ GRPC_PORT: '8080' }), /GRPC_PORT: must differ from PORT/);
    assert.equal(loadConfig({ PORT: '0', GRPC_PORT: '0' }).grpcPort, 0);
  });
});
