// Drives Portico with openid-client v6 (panva), one step per run, for
// tests/test_client_openid_client.py. The browser part of the authorization code flow is
// played by Python between the "authorize-url" and "callback" steps.
//
// Usage: node openid_client_flow.mjs '<json config>'   (or the JSON on stdin)
// Config: { step, issuer, clientId, clientSecret, ... } — see each step below.
// Output: one JSON object on stdout. On failure: {"failed": {...}} and exit code 1.

import * as client from 'openid-client';

async function readConfig() {
  if (process.argv[2]) return JSON.parse(process.argv[2]);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// The issuer is http://localhost:<port>/oidc in tests, hence allowInsecureRequests.
// Without a clientSecret the client is a public one (auth 'none') unless told otherwise.
async function configure(cfg, auth = cfg.clientSecret ? 'basic' : 'none') {
  let clientAuth;
  if (auth === 'none') clientAuth = client.None();
  else if (auth === 'private_key_jwt') {
    clientAuth = client.PrivateKeyJwt(await privateKey(cfg));
  } else if (auth === 'post') clientAuth = client.ClientSecretPost(cfg.clientSecret);
  else clientAuth = client.ClientSecretBasic(cfg.clientSecret);
  return client.discovery(new URL(cfg.issuer), cfg.clientId, undefined, clientAuth, {
    execute: [client.allowInsecureRequests],
    timeout: 30,
  });
}

// The client's EC P-256 private key ({ privateJwk }), for assertions and request objects.
async function privateKey(cfg) {
  const key = await crypto.subtle.importKey(
    'jwk', cfg.privateJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'],
  );
  return { key, kid: cfg.privateJwk.kid };
}

// A thrown error as JSON: openid-client's ResponseBodyError carries the OAuth error.
function describe(error) {
  return {
    name: error?.name,
    code: error?.code,
    message: error?.message,
    error: error?.error,
    error_description: error?.error_description,
    status: error?.status,
    // openid-client wraps oauth4webapi's error, whose cause names the claim or attribute.
    cause_message: error?.cause?.message,
    claim: error?.cause?.cause?.claim,
    attribute: error?.cause?.cause?.attribute,
    // WWWAuthenticateChallengeError (a 401 from a protected resource such as userinfo).
    challenges: Array.isArray(error?.cause) ? error.cause : undefined,
  };
}

// A JWT's header and claims, unverified (to report the DPoP proofs openid-client sends).
function decodeJwt(token) {
  const [header, payload] = token.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

// A fetch that records every request openid-client sends and what came back: the
// Authorization scheme, the DPoP proof, the status, the OAuth error, the raw token_type
// (openid-client lower-cases it) and the DPoP-Nonce / WWW-Authenticate response headers.
function recorder(config) {
  const trace = [];
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options);
    const sent = new Headers(options?.headers);
    const proof = sent.get('dpop');
    const entry = {
      method: options?.method ?? 'GET',
      path: new URL(url).pathname,
      status: response.status,
      auth_scheme: sent.get('authorization')?.split(' ')[0] ?? null,
      proof: proof ? decodeJwt(proof) : null,
      dpop_nonce: response.headers.get('dpop-nonce'),
      www_authenticate: response.headers.get('www-authenticate'),
    };
    if ((response.headers.get('content-type') ?? '').includes('json')) {
      const body = await response.clone().json();
      entry.error = body.error;
      entry.token_type = body.token_type;
    }
    trace.push(entry);
    return response;
  };
  // The entries recorded since the last call.
  return () => trace.splice(0);
}

// A DPoP key pair: a new one (randomDPoPKeyPair), or the private JWK of an earlier step.
async function dpopKeyPair(privateJwk) {
  if (!privateJwk) return client.randomDPoPKeyPair('ES256', { extractable: true });
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const { d, key_ops: ops, ...publicJwk } = privateJwk;
  return {
    privateKey: await crypto.subtle.importKey('jwk', privateJwk, algorithm, true, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  };
}

const exportJwk = (key) => crypto.subtle.exportKey('jwk', key);

// What the DPoP steps report of a token response.
function tokenSummary(tokens) {
  return {
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    scope: tokens.scope,
    claims: tokens.id_token ? tokens.claims() : undefined,
  };
}

async function expectFailure(promise) {
  try {
    const value = await promise;
    return { failed: false, value };
  } catch (error) {
    return { failed: true, ...describe(error) };
  }
}

const steps = {
  // { resource, scope } -> the client_credentials token response.
  async 'client-credentials'(cfg) {
    const config = await configure(cfg, 'post');
    const parameters = { resource: cfg.resource };
    if (cfg.scope) parameters.scope = cfg.scope;
    const tokens = await client.clientCredentialsGrant(config, parameters);
    return {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_in: tokens.expiresIn(),
      has_refresh_token: tokens.refresh_token !== undefined,
      has_id_token: tokens.id_token !== undefined,
    };
  },

  // { privateJwk, resource, scope } -> client_credentials with private_key_jwt (RFC 7523).
  async 'private-key-jwt-cc'(cfg) {
    const config = await configure(cfg, 'private_key_jwt');
    const tokens = await client.clientCredentialsGrant(
      config, { resource: cfg.resource, scope: cfg.scope },
    );
    return { access_token: tokens.access_token, scope: tokens.scope };
  },

  // { scope } -> the device authorization response (RFC 8628), as openid-client reads it.
  async 'device-start'(cfg) {
    const config = await configure(cfg, 'none');
    const response = await client.initiateDeviceAuthorization(config, { scope: cfg.scope });
    return { response, server_metadata: config.serverMetadata() };
  },

  // { response } -> polls until the user decided; the token response and its claims.
  async 'device-poll'(cfg) {
    const config = await configure(cfg, 'none');
    const tokens = await client.pollDeviceAuthorizationGrant(config, cfg.response);
    return {
      access_token: tokens.access_token,
      has_refresh_token: tokens.refresh_token !== undefined,
      claims: tokens.claims(),
    };
  },

  // { resource, scope } -> client_credentials twice with one DPoP key (RFC 9449): the first
  // grant meets the server's use_dpop_nonce and openid-client retries with the nonce, the
  // second already knows it. The token responses, the key's public JWK and the wire traces.
  async 'dpop-client-credentials'(cfg) {
    const config = await configure(cfg);
    const traced = recorder(config);
    const keyPair = await client.randomDPoPKeyPair();
    const DPoP = client.getDPoPHandle(config, keyPair);
    const parameters = { resource: cfg.resource, scope: cfg.scope };
    const first = await client.clientCredentialsGrant(config, parameters, { DPoP });
    const firstTrace = traced();
    const second = await client.clientCredentialsGrant(config, parameters, { DPoP });
    return {
      public_jwk: await exportJwk(keyPair.publicKey),
      first: { ...tokenSummary(first), trace: firstTrace },
      second: { ...tokenSummary(second), trace: traced() },
    };
  },

  // { callbackUrl, codeVerifier, nonce, state, dpopJwk?, redeemWithOtherKey? } -> the code
  // redeemed with a DPoP proof (the key of the par-url step with `dpopJwk`, else a new one;
  // another new key with `redeemWithOtherKey`), userinfo with the DPoP-bound token (DPoP
  // scheme, a proof with ath), refreshes, and what becomes of the bound tokens without the
  // key or with another key. Without clientSecret: a public client (auth 'none').
  async 'dpop-callback'(cfg) {
    const config = await configure(cfg);
    const traced = recorder(config);
    const keyPair = await dpopKeyPair(cfg.dpopJwk);
    const DPoP = client.getDPoPHandle(config, keyPair);
    const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const checks = { pkceCodeVerifier: cfg.codeVerifier, expectedNonce: cfg.nonce,
      expectedState: cfg.state, idTokenExpected: true };
    const result = { public_jwk: await exportJwk(keyPair.publicKey) };
    const redeemer = cfg.redeemWithOtherKey ? other : DPoP;
    const grant = await expectFailure(client.authorizationCodeGrant(
      config, new URL(cfg.callbackUrl), checks, undefined, { DPoP: redeemer },
    ));
    result.grant = { ...grant, trace: traced() };
    if (grant.failed) return result;
    const tokens = grant.value;
    result.grant.value = tokenSummary(tokens);
    const sub = tokens.claims().sub;

    result.userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
    result.userinfo_trace = traced();
    result.userinfo_as_bearer = await expectFailure(
      client.fetchUserInfo(config, tokens.access_token, sub),
    );
    result.userinfo_other_key = await expectFailure(
      client.fetchUserInfo(config, tokens.access_token, sub, { DPoP: other }),
    );
    traced();

    const refreshed = await client.refreshTokenGrant(
      config, tokens.refresh_token, undefined, { DPoP },
    );
    result.refresh = { ...tokenSummary(refreshed), trace: traced() };
    result.userinfo_after_refresh = await client.fetchUserInfo(
      config, refreshed.access_token, sub, { DPoP },
    );
    const latest = refreshed.refresh_token ?? tokens.refresh_token;
    const summarised = async (promise) => {
      const outcome = await expectFailure(promise);
      if (!outcome.failed) outcome.value = tokenSummary(outcome.value);
      return outcome;
    };
    result.refresh_without_dpop = await summarised(client.refreshTokenGrant(config, latest));
    result.refresh_other_key = await summarised(
      client.refreshTokenGrant(config, latest, undefined, { DPoP: other }),
    );
    traced();
    result.refresh_again = await summarised(
      client.refreshTokenGrant(config, latest, undefined, { DPoP }),
    );
    return result;
  },

  // { redirectUri, scope, prompt?, dpop? } -> an authorization URL made with PAR (RFC 9126).
  async 'par-url'(cfg) {
    const config = await configure(cfg);
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const parameters = {
      redirect_uri: cfg.redirectUri,
      scope: cfg.scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    };
    if (cfg.prompt) parameters.prompt = cfg.prompt;
    if (!cfg.dpop) {
      const url = await client.buildAuthorizationUrlWithPAR(config, parameters);
      return { url: url.href, codeVerifier, nonce, state };
    }
    // With `dpop`: a DPoP proof at the PAR endpoint binds the code to the key (RFC 9449
    // §10.1); its private JWK is handed to the dpop-callback step.
    const traced = recorder(config);
    const keyPair = await dpopKeyPair();
    const DPoP = client.getDPoPHandle(config, keyPair);
    const url = await client.buildAuthorizationUrlWithPAR(config, parameters, { DPoP });
    return {
      url: url.href, codeVerifier, nonce, state,
      dpopJwk: await exportJwk(keyPair.privateKey), trace: traced(),
    };
  },

  // { privateJwk, redirectUri, scope, pushed? } -> an authorization URL whose parameters are
  // a request object signed with the client's key (RFC 9101); with `pushed`, that object is
  // sent to the PAR endpoint (RFC 9126) and the URL carries only its request_uri.
  async 'jar-url'(cfg) {
    const config = await configure(cfg, 'private_key_jwt');
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const parameters = {
      redirect_uri: cfg.redirectUri,
      scope: cfg.scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    };
    let url = await client.buildAuthorizationUrlWithJAR(config, parameters, await privateKey(cfg));
    if (cfg.pushed) url = await client.buildAuthorizationUrlWithPAR(config, url.searchParams);
    return { url: url.href, codeVerifier, nonce, state };
  },

  // { redirectUri, scope, prompt? } -> the URL to open, and the checks to keep for later.
  async 'authorize-url'(cfg) {
    const config = await configure(cfg);
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const parameters = {
      redirect_uri: cfg.redirectUri,
      scope: cfg.scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    };
    if (cfg.prompt) parameters.prompt = cfg.prompt;
    if (cfg.acrValues) parameters.acr_values = cfg.acrValues;
    const url = client.buildAuthorizationUrl(config, parameters);
    return {
      url: url.href,
      code_challenge: parameters.code_challenge,
      codeVerifier,
      nonce,
      state,
      server_metadata: config.serverMetadata(),
    };
  },

  // { callbackUrl, codeVerifier, nonce, state, postLogoutRedirectUri, privateJwk? } ->
  // everything after the authorization response: grant, userinfo, refresh, introspection,
  // revocation, logout. With `privateJwk` the client authenticates with private_key_jwt.
  async callback(cfg) {
    const config = await configure(cfg, cfg.privateJwk ? 'private_key_jwt' : 'basic');
    const result = {};
    const tokens = await client.authorizationCodeGrant(config, new URL(cfg.callbackUrl), {
      pkceCodeVerifier: cfg.codeVerifier,
      expectedNonce: cfg.nonce,
      expectedState: cfg.state,
      idTokenExpected: true,
    });
    const claims = tokens.claims(); // validated by openid-client (sig, iss, aud, nonce, exp…)
    result.grant = {
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_in: tokens.expiresIn(),
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      id_token: tokens.id_token,
      claims,
    };
    result.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

    if (cfg.stopAfterGrant) return result;

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    result.refresh = {
      token_type: refreshed.token_type,
      scope: refreshed.scope,
      access_token: refreshed.access_token,
      refresh_token: refreshed.refresh_token,
      id_token: refreshed.id_token,
      claims: refreshed.claims(),
    };
    result.userinfo_after_refresh = await client.fetchUserInfo(
      config, refreshed.access_token, claims.sub,
    );
    // A userinfo response for another subject must be rejected by the client.
    result.userinfo_wrong_subject = await expectFailure(
      client.fetchUserInfo(config, refreshed.access_token, 'someone-else'),
    );

    result.introspect_access = await client.tokenIntrospection(
      config, refreshed.access_token, { token_type_hint: 'access_token' },
    );
    result.introspect_refresh = await client.tokenIntrospection(
      config, tokens.refresh_token, { token_type_hint: 'refresh_token' },
    );

    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    result.revoked = true;
    result.refresh_after_revocation = await expectFailure(
      client.refreshTokenGrant(config, tokens.refresh_token),
    );
    result.introspect_refresh_after_revocation = await client.tokenIntrospection(
      config, tokens.refresh_token, { token_type_hint: 'refresh_token' },
    );
    result.introspect_access_after_revocation = await client.tokenIntrospection(
      config, refreshed.access_token, { token_type_hint: 'access_token' },
    );
    result.userinfo_after_revocation = await expectFailure(
      client.fetchUserInfo(config, refreshed.access_token, claims.sub),
    );

    result.end_session_url = client.buildEndSessionUrl(config, {
      post_logout_redirect_uri: cfg.postLogoutRedirectUri,
      id_token_hint: tokens.id_token,
      state: cfg.logoutState ?? 'logout-state',
    }).href;
    return result;
  },
};

try {
  const cfg = await readConfig();
  const step = steps[cfg.step];
  if (!step) throw new Error(`unknown step ${JSON.stringify(cfg.step)}`);
  process.stdout.write(`${JSON.stringify(await step(cfg))}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ failed: describe(error) })}\n`);
  process.exitCode = 1;
}
