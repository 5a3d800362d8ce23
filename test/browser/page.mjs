// The script of a web page served from another origin than the service, bundled for the browser
// by the test (browser.e2e.spec.ts): it calls the service as a browser app would, with
// @zitadel/client's web transport (gRPC-web) and with fetch (REST), then reports to its own origin.
import { createClientTransport } from '@zitadel/client/web';
import { createUserServiceClient } from '@zitadel/client/v2';

const { service, token, userId } = JSON.parse(document.getElementById('settings').textContent);

async function viaGrpcWeb() {
  try {
    const users = createUserServiceClient(createClientTransport(token, { baseUrl: service }));
    const answer = await users.getUserByID({ userId });
    return { ok: true, userId: answer.user?.userId, givenName: answer.user?.type?.value?.profile?.givenName };
  } catch (error) {
    return { ok: false, error: `${error?.name}: ${error?.message}` };
  }
}

async function viaFetch() {
  try {
    const response = await fetch(`${service}/v2/users/${encodeURIComponent(userId)}`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'from-the-browser' },
    });
    const body = await response.json();
    return { ok: true, status: response.status, requestId: response.headers.get('x-request-id'), userId: body.user?.userId };
  } catch (error) {
    return { ok: false, error: `${error?.name}: ${error?.message}` };
  }
}

const report = { grpcWeb: await viaGrpcWeb(), rest: await viaFetch(), origin: location.origin };
await fetch('/result', { method: 'POST', body: JSON.stringify(report) });
