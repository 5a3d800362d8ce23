import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config';
import { openStores } from '../../src/event-store/stores';
import { USER_PROJECTIONS } from '../../src/users/read-models/user.projections';
import { RecordedEvent } from '../../src/event-store/event-store.port';
import { UserEventType, toUserEvent, userStreamId } from '../../src/users/user.events';
import { UserState, evolveUser, initialUserState } from '../../src/users/user.state';
import { Response, RunningServer, startServer, stopAll } from '../support/server';

/**
 * Crash safety: the service under a load of writes is killed with SIGKILL, started again on the
 * same data, and what it acknowledged before dying is checked against the event log and the reads.
 * The rules: every write answered 200 is in the log at the sequence it answered; no write is there
 * by halves; after the restart the reads agree with the log.
 */

/** Concurrent clients; each owns some users, so the order of writes on one user is known. */
const CLIENTS = 32;
const USERS_PER_CLIENT = 3;
/** The kill comes once this many writes have been acknowledged under load, or after KILL_BY_MS. */
const KILL_AFTER_ACKS = 250;
const KILL_BY_MS = 8_000;

type Op = 'AddHumanUser' | 'AddOTPEmail' | 'RemoveOTPEmail';

interface Write {
  op: Op;
  userId: string;
  isVerified?: boolean;
  /** The answer; undefined when the connection died first (the outcome is unknown). */
  response?: Response;
}

/** A user whose factor the clients toggle; its writes are sequential. */
interface Toggled {
  userId: string;
  otpEmail: boolean;
  /** Acknowledged sequences of its factor writes, in order. */
  acked: Array<{ op: Op; sequence: number }>;
  /** A write whose outcome is unknown was sent: the user is left alone from then on. */
  uncertain: boolean;
}

describe('crash safety: SIGKILL under load', () => {
  after(stopAll);

  it('keeps every acknowledged write, none by halves, and the reads agree with the log after a restart', { timeout: 60_000 }, async () => {
    const run = randomBytes(4).toString('hex');
    const timings: string[] = [];
    let stageAt = Date.now();
    const stage = (name: string) => {
      timings.push(`${name} ${((Date.now() - stageAt) / 1000).toFixed(1)} s`);
      stageAt = Date.now();
    };
    const org = `crash-org-${run}`;
    let server: RunningServer = await startServer();
    const admin = await server.token({ sub: `crash-admin-${run}`, org, roles: { IAM_OWNER: [org] } });

    // Users whose OTP Email the load turns on and off, created before the load.
    const toggled: Toggled[] = Array.from({ length: CLIENTS * USERS_PER_CLIENT }, (_, i) => ({
      userId: `crash-${run}-t${i}`,
      otpEmail: false,
      acked: [],
      uncertain: false,
    }));
    await Promise.all(
      toggled.map(async ({ userId }) => {
        const created = await server.request('POST', '/v2/users/human', { token: admin, body: humanBody(userId, org, true) });
        assert.equal(created.status, 200, created.text);
      }),
    );

    stage('start and setup');
    // The load: every client writes as fast as it is answered, until the kill.
    const writes: Write[] = [];
    let acks = 0;
    let killed = false;
    let created = 0;
    let kill!: () => void;
    // A few milliseconds after the threshold, at no particular point of a request's way.
    const killedAt = new Promise<void>((resolve) => (kill = () => setTimeout(resolve, Math.random() * 15)));
    const timer = setTimeout(() => kill(), KILL_BY_MS);
    const send = async (write: Write, method: string, path: string, body?: unknown): Promise<void> => {
      writes.push(write);
      try {
        write.response = await server.request(method, path, { token: admin, body });
      } catch {
        return; // the connection died with the process
      }
      if (write.response.status === 200 && ++acks === KILL_AFTER_ACKS) kill();
    };
    const client = async (c: number): Promise<void> => {
      const mine = toggled.slice(c * USERS_PER_CLIENT, (c + 1) * USERS_PER_CLIENT);
      for (let round = 0; !killed; round++) {
        if (round % 4 === 3) {
          const isVerified = round % 8 === 3;
          const write: Write = { op: 'AddHumanUser', userId: `crash-${run}-n${c}-${created++}`, isVerified };
          await send(write, 'POST', '/v2/users/human', humanBody(write.userId, org, isVerified));
          continue;
        }
        const user = mine[round % mine.length];
        if (user.uncertain) continue;
        const op: Op = user.otpEmail ? 'RemoveOTPEmail' : 'AddOTPEmail';
        const write: Write = { op, userId: user.userId };
        await send(write, op === 'AddOTPEmail' ? 'POST' : 'DELETE', `/v2/users/${user.userId}/otp_email`, op === 'AddOTPEmail' ? {} : undefined);
        if (write.response?.status === 200) {
          user.otpEmail = !user.otpEmail;
          user.acked.push({ op, sequence: Number(write.response.body.details.sequence) });
        } else if (!write.response || write.response.status >= 500) {
          user.uncertain = true;
        } else {
          assert.fail(`${op} on ${user.userId} answered ${write.response.status} ${write.response.text}`);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    await killedAt;
    clearTimeout(timer);
    // The clients go on sending until the process is gone, so that the kill cuts requests off.
    await server.kill();
    killed = true;
    await Promise.all(clients);

    const answered = writes.filter((w) => w.response);
    for (const w of answered) {
      // Nothing but 200 before the kill: anything else would be a bug, not a crash effect.
      assert.equal(w.response!.status, 200, `${w.op} ${w.userId}: ${w.response!.text}`);
    }
    assert.ok(acks >= 50, `only ${acks} writes were acknowledged before the kill`);
    const inFlight = writes.length - answered.length;

    stage('load and kill');
    server = await startServer({ dataDir: server.dataDir });
    stage('restart');
    const stores = await openStores(
      loadConfig({
        DATA_DIR: server.dataDir,
        DATABASE_URL: server.databaseUrl,
        EVENTSTORE_CONNECTION_STRING: process.env.EVENTSTORE_CONNECTION_STRING,
      }),
      USER_PROJECTIONS,
    );
    const store = stores.events;
    try {
      const streams = new Map<string, RecordedEvent[]>();
      /** Writes cut off by the kill that were durable all the same. */
      let durableUnanswered = 0;
      const streamOf = async (userId: string) => {
        if (!streams.has(userId)) streams.set(userId, (await store.readStream(userStreamId(userId))).events);
        return streams.get(userId)!;
      };

      // New users: acknowledged ones are there, whole, at the sequence they answered; others are
      // there whole or not at all.
      for (const w of writes.filter((w) => w.op === 'AddHumanUser')) {
        const events = await streamOf(w.userId);
        const types = events.map((e) => e.type);
        const whole = w.isVerified
          ? [UserEventType.HumanAdded, UserEventType.EmailVerified]
          : [UserEventType.HumanAdded];
        if (w.response) {
          assert.deepEqual(types, whole, `acknowledged AddHumanUser ${w.userId}`);
          assert.equal(w.response.body.details.sequence, String(whole.length));
        } else {
          assert.ok(types.length === 0 || isEqual(types, whole), `unacknowledged AddHumanUser ${w.userId} left ${types.join(', ')}`);
          if (types.length > 0) durableUnanswered++;
        }
      }

      // Toggled users: each acknowledged write is the event at the sequence it answered, and only
      // a write whose answer was lost may have added one more.
      for (const user of toggled) {
        const events = await streamOf(user.userId);
        let expected = 2; // added, verified
        for (const { op, sequence } of user.acked) {
          expected += 1;
          assert.equal(sequence, expected, `${user.userId}: ${op} answered sequence ${sequence}`);
          assert.equal(events[sequence - 1]?.type, op === 'AddOTPEmail' ? UserEventType.OTPEmailAdded : UserEventType.OTPEmailRemoved);
        }
        const extra = events.length - expected;
        assert.ok(extra === 0 || (extra === 1 && user.uncertain), `${user.userId}: ${events.length} events, ${expected} acknowledged`);
        durableUnanswered += extra;
      }

      // The reads agree with the log: the projections caught up with everything, lost answers too.
      for (const [userId, events] of streams) await assertReadsAgree(server, admin, userId, events);

      // And the service goes on from there: the rules see the same state as the log.
      const user = toggled.find((u) => !u.uncertain)!;
      const events = await streamOf(user.userId);
      const next = await server.request(user.otpEmail ? 'DELETE' : 'POST', `/v2/users/${user.userId}/otp_email`, {
        token: admin,
        body: user.otpEmail ? undefined : {},
      });
      assert.equal(next.status, 200, next.text);
      assert.equal(next.body.details.sequence, String(events.length + 1));

      stage('checks');
      console.log(
        `# ${timings.join(', ')}: ${writes.length} writes sent, ${acks} acknowledged, ${inFlight} unanswered (cut off by the kill or ` +
          `refused after it; ${durableUnanswered} of them durable all the same); ${streams.size} streams checked`,
      );
    } finally {
      await stores.close();
    }
  });
});

function humanBody(userId: string, orgId: string, isVerified: boolean) {
  return {
    userId,
    organization: { orgId },
    username: userId,
    profile: { givenName: 'Crash', familyName: 'Test' },
    email: { email: `${userId}@example.com`, isVerified },
  };
}

function isEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function assertReadsAgree(server: RunningServer, token: string, userId: string, events: RecordedEvent[]): Promise<void> {
  let state: UserState = initialUserState;
  for (const recorded of events) {
    const event = toUserEvent(recorded);
    if (event) state = evolveUser(state, event);
  }
  const user = await server.request('GET', `/v2/users/${userId}`, { token });
  if (state.status !== 'active') {
    assert.equal(user.status, 404, `${userId} has no user in the log but reads ${user.text}`);
    return;
  }
  assert.equal(user.status, 200, `${userId}: ${user.text}`);
  const last = events[events.length - 1];
  assert.deepEqual(
    user.body.details,
    { sequence: String(events.length), changeDate: last.createdAt.toISOString(), resourceOwner: last.metadata.resourceOwner },
    `${userId}: details read do not match the log`,
  );
  assert.equal(user.body.user.human.email.isVerified === true, state.emailVerified, `${userId}: isVerified`);
  const factors = await server.request('POST', `/v2/users/${userId}/authentication_factors/_search`, { token });
  assert.equal(factors.status, 200, factors.text);
  assert.deepEqual(
    factors.body,
    state.otpEmail ? { result: [{ state: 'AUTH_FACTOR_STATE_READY', otpEmail: {} }] } : {},
    `${userId}: factors read do not match the log`,
  );
}
