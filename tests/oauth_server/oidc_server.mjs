// A real OAuth 2.0 / OIDC authorization server for mcpcred's tests, loopback only.
//
// Built on panva's `oidc-provider` (OpenID Certified), so the protocol behaviour under test
// (device flow, PKCE, refresh-token rotation and reuse detection, error codes) is somebody
// else's implementation, not ours. Driven by tests/support/oauth_server.py.
//
//   node oidc_server.mjs            -> listens on 127.0.0.1:<random port>
//   PORT=9000 node oidc_server.mjs  -> fixed port
//
// Prints ONE JSON line on stdout when ready:  {"issuer": "...", "port": N, "resource": "..."}
// Nothing else is ever written to stdout (oidc-provider's notices are moved to stderr).
//
// Env knobs (seconds): ACCESS_TTL (60), REFRESH_TTL (86400), DEVICE_TTL (600)
//                      ROTATE=0 disables refresh-token rotation (default: rotate, public client)
//                      SLOW_TOKEN_MS=N holds every /token response back N ms after the request
//                      was handled (tokens already rotated), to widen race windows
// MCP authorization knobs (remote MCP servers' logins):
//                      NO_PKCE_METADATA=1 drops code_challenge_methods_supported from the
//                      metadata (an AS that does not advertise PKCE: a client MUST refuse it)
//                      WRONG_ISS=1 rewrites `iss` in every authorization response (a mix-up)
//                      DCR_STATUS=N answers every registration with HTTP N (GitHub: 422)
//                      CIMD=1 accepts Client ID Metadata Documents (an https client_id URL); with
//                      NODE_EXTRA_CA_CERTS naming the test certificate that serves them
//
// Test glue besides oidc-provider (see the bottom half):
//   GET  /test/stats  -> request counters (JSON object of integers)
//   POST /test/reset  -> zero them
//   /mcp + /.well-known/oauth-protected-resource[/mcp]: a tiny RFC 9728 protected resource.
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';

// oidc-provider prints "NOTICE" lines with console.info (stdout); stdout is reserved for the
// ready line that the test harness parses, so send them to stderr with the warnings.
console.info = (...args) => console.error(...args);

const PORT = Number(process.env.PORT || 0);
const ACCESS_TTL = Number(process.env.ACCESS_TTL || 60);
const REFRESH_TTL = Number(process.env.REFRESH_TTL || 86400);
const DEVICE_TTL = Number(process.env.DEVICE_TTL || 600);
const ROTATE = process.env.ROTATE !== '0';
const SLOW_TOKEN_MS = Number(process.env.SLOW_TOKEN_MS || 0);
const NO_PKCE_METADATA = process.env.NO_PKCE_METADATA === '1';
const WRONG_ISS = process.env.WRONG_ISS === '1';
const DCR_STATUS = Number(process.env.DCR_STATUS || 0);
const CIMD = process.env.CIMD === '1';

// Bind first so the issuer URL contains the real (possibly random) port.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = `${issuer}/mcp`; // demo protected resource served by this script (glue, see below)

const isLoopbackUrl = (u) => {
  try {
    const { protocol, hostname } = new URL(u);
    return protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  } catch { return false; }
};

const configuration = {
  clients: [{
    client_id: 'mcpcred-test',
    client_name: 'mcpcred test client',
    application_type: 'native', // => RFC 8252 7.3: loopback redirect port is ignored when matching
    token_endpoint_auth_method: 'none', // public client => PKCE (S256) mandatory
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback'],
  }, {
    // A pre-registered confidential client (an "OAuth app" with a secret, like GitHub's).
    client_id: 'mcpcred-confidential',
    client_secret: 'test-client-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  }, {
    // An OAuth app made for Gemini CLI: registered with its redirect only (localhost, path
    // /oauth/callback; any port, as for every native client here), not with mcpcred's.
    client_id: 'gemini-app',
    client_secret: 'gemini-app-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://localhost/oauth/callback'],
  }],
  // The MCP resource servers' scopes are listed too: a DCR request carries `scope`, and
  // oidc-provider refuses scopes it does not know (invalid_client_metadata).
  scopes: ['openid', 'offline_access', 'profile', 'email', 'mcp:tools', 'mcp:read', 'mcp:admin'],
  // CIMD only: oidc-provider's own fetch refuses loopback addresses (its SSRF guard), and the
  // documents of these tests live on loopback.
  ...(CIMD ? { fetch: (url, options) => { delete options.dispatcher; return fetch(url, options); } } : {}),
  features: {
    clientIdMetadataDocument: { enabled: CIMD, ack: 'draft-02' }, // experimental in 9.x
    devInteractions: { enabled: true }, // built-in (dev-only) login + consent HTML pages; any login/password accepted
    deviceFlow: { enabled: true }, // RFC 8628
    registration: { enabled: true }, // RFC 7591 open dynamic client registration at /reg
    registrationManagement: { enabled: true }, // RFC 7592
    revocation: { enabled: true }, // RFC 7009
    introspection: { enabled: true }, // RFC 7662
    resourceIndicators: { // RFC 8707
      enabled: true,
      // no `resource` param -> no audience-restricted token (opaque AT usable at userinfo)
      defaultResource: async (ctx, client, oneOf) => oneOf,
      // refresh / code exchange without `resource` reuses the resource granted earlier
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (!isLoopbackUrl(resourceIndicator)) throw new errors.InvalidTarget();
        return {
          scope: 'mcp:tools mcp:read mcp:admin',
          audience: resourceIndicator,
          accessTokenTTL: ACCESS_TTL,
          accessTokenFormat: 'jwt', // RFC 9068 JWT access token, aud = resource
        };
      },
    },
  },
  ttl: {
    AccessToken: ACCESS_TTL,
    AuthorizationCode: 60,
    DeviceCode: DEVICE_TTL,
    RefreshToken: REFRESH_TTL,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: REFRESH_TTL,
  },
  // Default is "only with offline_access scope (and prompt=consent on /auth)". MCP-style clients
  // don't ask for OIDC scopes, so issue a refresh token whenever the client may use the grant.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Default ties tokens without offline_access to the browser session; don't.
  expiresWithSession: async () => false,
  pkce: { required: () => true },
  cookies: { keys: ['test-only-cookie-key'] },
};
// Leaving rotateRefreshToken out keeps the library default (rotate for public clients).
if (!ROTATE) configuration.rotateRefreshToken = () => false;

const provider = new Provider(issuer, configuration);

// ---------------------------------------------------------------------------------------------
// Test glue, NOT part of oidc-provider.
// ---------------------------------------------------------------------------------------------

// Request counters. A POST to the token endpoint counts under its grant_type (taken from the
// body oidc-provider itself parsed, read after the request was handled so the stream is never
// touched here); "token" counts all of them, and refresh_token requests also count as
// "refresh_ok" (HTTP 200) or "refresh_error" (anything else).
const TOKEN_PATH = provider.pathFor('token');
const REVOCATION_PATH = provider.pathFor('revocation');
const DEVICE_AUTHORIZATION_PATH = provider.pathFor('device_authorization');
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const zeroStats = () => ({
  token: 0,
  authorization_code: 0,
  refresh_token: 0,
  [DEVICE_CODE_GRANT]: 0,
  refresh_ok: 0,
  refresh_error: 0,
  revocation: 0,
  device_authorization: 0,
  refresh_with_resource: 0,
  registration: 0,
});
let stats = zeroStats();
const count = (key) => { stats[key] = (stats[key] || 0) + 1; };
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats' && ctx.method === 'GET') {
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/test/reset' && ctx.method === 'POST') {
    stats = zeroStats();
    ctx.body = stats;
    return;
  }
  if (ctx.method !== 'POST') {
    await next();
    return;
  }
  if (ctx.path === REVOCATION_PATH) count('revocation');
  if (ctx.path === DEVICE_AUTHORIZATION_PATH) count('device_authorization');
  if (ctx.path !== TOKEN_PATH) {
    await next();
    return;
  }
  try {
    await next();
  } finally {
    // ctx.oidc is defined by oidc-provider's router for its own routes; its `body` is the form
    // oidc-provider parsed (undefined when the body could not be parsed at all).
    const grantType = ctx.oidc?.body?.grant_type;
    count('token');
    count(typeof grantType === 'string' ? grantType : '(no grant_type)');
    if (grantType === 'refresh_token') count(ctx.status === 200 ? 'refresh_ok' : 'refresh_error');
    if (grantType === 'refresh_token' && ctx.oidc?.body?.resource) count('refresh_with_resource');
  }
  if (SLOW_TOKEN_MS > 0) await sleep(SLOW_TOKEN_MS);
});

// MCP authorization glue: misbehaviours a client must catch, switched on by env (see the top).
const REGISTRATION_PATH = provider.pathFor('registration');
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === REGISTRATION_PATH) {
    count('registration');
    if (DCR_STATUS) {
      ctx.status = DCR_STATUS;
      ctx.body = { message: 'Dynamic client registration is not supported' };
      return;
    }
  }
  await next();
  if (NO_PKCE_METADATA && ctx.path.startsWith('/.well-known/') && ctx.body && typeof ctx.body === 'object') {
    delete ctx.body.code_challenge_methods_supported;
  }
  const location = ctx.response.get('location');
  if (WRONG_ISS && location && location.includes('code=') && location.includes('iss=')) {
    const url = new URL(location);
    url.searchParams.set('iss', 'http://127.0.0.1:9');
    ctx.redirect(url.href);
  }
});

// A tiny protected resource at /mcp plus its RFC 9728 metadata, so a client can do:
// 401 -> PRM -> AS metadata -> login -> call with bearer.
let localJwks; // filled lazily (the provider must be serving first)
provider.use(async (ctx, next) => {
  if (ctx.path === '/.well-known/oauth-protected-resource' || ctx.path === '/.well-known/oauth-protected-resource/mcp') {
    ctx.body = {
      resource: RESOURCE,
      authorization_servers: [issuer],
      scopes_supported: ['mcp:tools', 'mcp:read'],
      bearer_methods_supported: ['header'],
    };
    return;
  }
  if (ctx.path === '/mcp') {
    const prm = `${issuer}/.well-known/oauth-protected-resource/mcp`;
    const auth = ctx.get('authorization');
    if (!auth.startsWith('Bearer ')) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer resource_metadata="${prm}", scope="mcp:tools"`);
      ctx.body = { error: 'unauthorized' };
      return;
    }
    try {
      if (!localJwks) {
        localJwks = createLocalJWKSet(await (await fetch(`${issuer}/jwks`)).json());
      }
      const { payload } = await jwtVerify(auth.slice(7), localJwks, {
        issuer, audience: RESOURCE, typ: 'at+jwt',
      });
      ctx.body = { ok: true, sub: payload.sub, scope: payload.scope, exp: payload.exp, client_id: payload.client_id };
    } catch (e) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${e.code || e.message}", resource_metadata="${prm}"`);
      ctx.body = { error: 'invalid_token', error_description: e.code || e.message };
    }
    return;
  }
  await next();
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer, port, resource: RESOURCE })}\n`);

// Nothing to flush (in-memory adapter): drop open keep-alive connections and leave.
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
