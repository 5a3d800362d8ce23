import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SigningKeyCipher, SigningKeyUnavailableError } from './signing-key-cipher';

const KEY = 'SPBQ6-XeqD8avpyPfAWRp0IMADBrfuV7LBBn6Y_ujUY';
const SECRET = 'a secret of at least thirty-two characters';

describe('SigningKeyCipher', () => {
  it('seals a key so that it no longer shows, and opens it again with the same secret', () => {
    const cipher = new SigningKeyCipher(SECRET);
    const sealed = cipher.seal(KEY);
    assert.ok(!sealed.includes(KEY));
    assert.notEqual(cipher.seal(KEY), sealed, 'a new nonce each time');
    assert.equal(new SigningKeyCipher(SECRET).open(sealed), KEY);
  });

  it('keeps keys as they are without a secret, and reads keys kept so after a secret is set', () => {
    assert.equal(new SigningKeyCipher(undefined).seal(KEY), KEY);
    assert.equal(new SigningKeyCipher(SECRET).open(KEY), KEY);
  });

  it('refuses to open with another secret, without one, or once the sealed key was changed', () => {
    const sealed = new SigningKeyCipher(SECRET).seal(KEY);
    assert.throws(() => new SigningKeyCipher(`${SECRET}!`).open(sealed), SigningKeyUnavailableError);
    assert.throws(() => new SigningKeyCipher(undefined).open(sealed), /ACTIONS_SIGNING_KEY_SECRET is not set/);
    const [prefix, iv, body, tag] = sealed.split('.');
    const flipped = `${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
    assert.throws(() => new SigningKeyCipher(SECRET).open([prefix, iv, flipped, tag].join('.')), SigningKeyUnavailableError);
  });
});
