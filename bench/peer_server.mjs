// Peer server for bench/run.py: panva's oidc-provider (v9), the engine inside Logto,
// configured comparably to Portico for the figures the benchmark measures.
//
// Usage: node bench/peer_server.mjs PORT [WORKERS]
// Env:   PEER_MODULE_DIR  directory holding node_modules/oidc-provider (default bench/.peer)
//
// - in-memory adapter (the library's default), one ES384 (P-384) signing key
// - a client-credentials client ("bench-m2m") with a resource indicator issuing ES384 JWT
//   access tokens
// - a confidential web client ("bench-web") for refresh / userinfo figures; the grant, an opaque
//   access token and a refresh token are minted at start-up through the provider's models (no
//   interactive sign-in in the peer) and printed as one JSON line on stdout ("READY {...}");
//   POST /bench/mint (one process only) mints a fresh set: the library's in-memory store is an
//   LRU of 1,000 entries, so a refresh-grant run (a new access token per request) evicts the
//   start-up access token and a later round's userinfo run needs a new one
// - WORKERS > 1 starts a node:cluster; the key and the tokens are created in the primary and
//   shared with workers, and each worker owns its own in-memory store, so the minted tokens are
//   saved into each worker's store.
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const port = Number(process.argv[2] || 3100);
const workers = Number(process.argv[3] || 1);
const issuer = `http://127.0.0.1:${port}/oidc`;
const moduleDir = process.env.PEER_MODULE_DIR
  || path.join(path.dirname(new URL(import.meta.url).pathname), '.peer');

const RESOURCE = 'https://default.logto.app/api';
const M2M = { id: 'bench-m2m', secret: 'bench-m2m-secret-0123456789abcdef' };
const WEB = { id: 'bench-web', secret: 'bench-web-secret-0123456789abcdef' };
const ACCOUNT = 'bench-user';

async function build(jwk) {
  const entry = path.join(moduleDir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
  const { default: Provider } = await import(pathToFileURL(entry).href);
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [
      {
        client_id: M2M.id,
        client_secret: M2M.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: WEB.id,
        client_secret: WEB.secret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://localhost:3000/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['openid', 'offline_access', 'profile', 'all'],
    claims: { openid: ['sub'], profile: ['name', 'username'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, name: 'bench', username: 'bench' }),
    }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'all',
            audience: RESOURCE,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES384' } },
          };
        },
      },
    },
    clientDefaults: { id_token_signed_response_alg: 'ES384' },
    enabledJWA: { idTokenSigningAlgValues: ['ES384'] },
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 3600,
      RefreshToken: 14 * 24 * 3600,
      IdToken: 3600,
      Grant: 14 * 24 * 3600,
    },
  });
  provider.proxy = false;
  return provider;
}

async function mintTokens(provider, seeded) {
  // Grant + opaque access token + refresh token, as an authorization-code flow would leave them.
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: WEB.id });
  if (seeded) grant.jti = seeded.grantId;
  grant.addOIDCScope('openid profile offline_access');
  const grantId = await grant.save();
  const at = new provider.AccessToken({
    accountId: ACCOUNT, clientId: WEB.id, grantId, scope: 'openid profile', gty: 'authorization_code',
  });
  if (seeded) {
    at.jti = seeded.accessToken;
    at.format = 'opaque';
  }
  const accessToken = await at.save();
  const rt = new provider.RefreshToken({
    accountId: ACCOUNT,
    clientId: WEB.id,
    grantId,
    scope: 'openid profile offline_access',
    gty: 'authorization_code',
    iat: Math.floor(Date.now() / 1000),
  });
  if (seeded) rt.jti = seeded.refreshToken;
  const refreshToken = await rt.save();
  return { grantId, accessToken, refreshToken };
}

async function serve(jwk, seeded) {
  const provider = await build(jwk);
  const tokens = await mintTokens(provider, seeded);
  const { default: http } = await import('node:http');
  const prefix = '/oidc';
  const callback = provider.callback();
  const server = http.createServer((req, res) => {
    if (req.url === '/status') {
      res.statusCode = 204;
      res.end();
      return;
    }
    if (req.url === '/bench/mint' && req.method === 'POST' && !seeded) {
      mintTokens(provider, null).then((fresh) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(fresh));
      }, (err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    if (req.url.startsWith(prefix)) {
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
      callback(req, res);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });
  return tokens;
}

async function main() {
  if (cluster.isPrimary) {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es384', alg: 'ES384', use: 'sig' };
    if (workers <= 1) {
      const tokens = await serve(jwk, null);
      process.stdout.write(`READY ${JSON.stringify({ ...tokens, m2m: M2M, web: WEB, pid: process.pid })}\n`);
      return;
    }
    // Fixed token ids, so every worker's in-memory store accepts the same tokens.
    const seeded = {
      grantId: crypto.randomBytes(16).toString('base64url'),
      accessToken: crypto.randomBytes(32).toString('base64url'),
      refreshToken: crypto.randomBytes(32).toString('base64url'),
    };
    let ready = 0;
    for (let i = 0; i < workers; i += 1) {
      const w = cluster.fork({ PEER_JWK: JSON.stringify(jwk), PEER_SEEDED: JSON.stringify(seeded) });
      w.on('message', (msg) => {
        if (msg === 'ready') {
          ready += 1;
          if (ready === workers) {
            process.stdout.write(`READY ${JSON.stringify({ ...seeded, m2m: M2M, web: WEB, pid: process.pid })}\n`);
          }
        }
      });
    }
    const stop = () => {
      for (const w of Object.values(cluster.workers)) w.kill();
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  } else {
    await serve(JSON.parse(process.env.PEER_JWK), JSON.parse(process.env.PEER_SEEDED));
    process.send('ready');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
