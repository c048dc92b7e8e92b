// An OpenID provider for the Rust tests: the certified `oidc-provider` package with one confidential
// client (client_secret_basic) and a scriptable login instead of a user interface.
//
// It listens on a free port of 127.0.0.1 and prints {"issuer": "..."}; then it reads one JSON
// line on stdin, {"client_id", "client_secret", "redirect_uri"} (the relying party, which needs
// the issuer to start), and prints {"ready": true} once it serves.
//
// The login: POST /interaction/<uid>/login with the form fields `sub` (the account, which is the
// PESEL in these tests) and `acr` (the level of assurance the login reached). Consent is given
// automatically. The provider is told not to enforce requested `acr` values itself (it would ask
// for the login again), so that the relying party's own check is what a test exercises.

import http from 'node:http';
import readline from 'node:readline';

import Provider, { interactionPolicy } from 'oidc-provider';

const LEVELS = [
  'http://eidas.europa.eu/LoA/low',
  'http://eidas.europa.eu/LoA/substantial',
  'http://eidas.europa.eu/LoA/high',
];

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;
console.log(JSON.stringify({ issuer }));

const input = readline.createInterface({ input: process.stdin });
const rp = JSON.parse(await new Promise((resolve) => { input.once('line', resolve); }));
// The test ends by closing our stdin (or killing us).
input.on('close', () => process.exit(0));

const policy = interactionPolicy.base();
policy.get('login').checks.remove('essential_acrs');
policy.get('login').checks.remove('essential_acr');

const provider = new Provider(issuer, {
  clients: [{
    client_id: rp.client_id,
    client_secret: rp.client_secret,
    redirect_uris: [rp.redirect_uri],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  acrValues: LEVELS,
  features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  cookies: { keys: ['ikp-test-cookie-key'] },
  pkce: { required: () => true },
});

function form(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

// Grants what the client asked for (the consent prompt).
async function consent(details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  return { consent: { grantId: await grant.save() } };
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    const details = await provider.interactionDetails(req, res);
    let result;
    if (details.prompt.name === 'login' && match[2] && req.method === 'POST') {
      const fields = await form(req);
      result = { login: { accountId: fields.get('sub'), acr: fields.get('acr') } };
    } else if (details.prompt.name === 'consent') {
      result = await consent(details);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`interaction ${details.uid}: ${details.prompt.name}`);
      return;
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e));
  }
});

console.log(JSON.stringify({ ready: true }));
