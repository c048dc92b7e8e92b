// A SMART app for the Rust tests, built on the official SMART JavaScript client (`fhirclient`,
// its Node adapter) with its default settings: a public client, PKCE required.
//
// It listens on a free port of 127.0.0.1 and prints {"app": "http://127.0.0.1:<port>"}; then it
// reads one JSON line on stdin, {"iss", "client_id", "scope"}, and prints {"ready": true}.
//
// GET /launch starts a standalone launch (the browser is sent to the server's /authorize);
// GET /callback completes it, reads the patient, refreshes the token the way fhirclient does by
// default (no client_id), reads the patient again with the new token, and answers JSON:
// {"patient", "first_token", "refreshed_token", "read_before", "read_after"} or {"error"}.

import http from 'node:http';
import readline from 'node:readline';

import smart from 'fhirclient';

// One user at a time: fhirclient's state lives here between /launch and /callback.
const memory = new Map();
const storage = {
  get: async (key) => memory.get(key),
  set: async (key, value) => { memory.set(key, value); return value; },
  unset: async (key) => memory.delete(key),
};

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
console.log(JSON.stringify({ app: `http://127.0.0.1:${server.address().port}` }));

const input = readline.createInterface({ input: process.stdin });
const config = JSON.parse(await new Promise((resolve) => { input.once('line', resolve); }));
input.on('close', () => process.exit(0));

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

server.on('request', async (req, res) => {
  const path = new URL(req.url, 'http://app').pathname;
  try {
    if (path === '/launch') {
      await smart(req, res, storage).authorize({
        iss: config.iss,
        clientId: config.client_id,
        scope: config.scope,
        redirectUri: '/callback',
        pkceMode: 'required',
      });
    } else if (path === '/callback') {
      const client = await smart(req, res, storage).ready();
      const first = client.state.tokenResponse.access_token;
      const before = await client.patient.read();
      await client.refresh();
      const after = await client.patient.read();
      answer(res, 200, {
        patient: client.patient.id,
        first_token: first,
        refreshed_token: client.state.tokenResponse.access_token,
        read_before: before.id,
        read_after: after.id,
      });
    } else {
      answer(res, 404, { error: `no ${path}` });
    }
  } catch (e) {
    answer(res, 500, { error: String(e && e.stack ? e.stack : e) });
  }
});

console.log(JSON.stringify({ ready: true }));
