// The examples/nextjs-authjs app without Next.js, for tests/test_client_authjs.py: the same
// Auth.js provider configuration mounted at /api/auth, and a home page that renders the session
// the way the example's page does (name and email, which Auth.js takes from the ID token).
//
//   VARIANT=v5  @auth/core (the engine next-auth@beta wraps) with the built-in Logto provider,
//               configured from AUTH_LOGTO_ISSUER / AUTH_LOGTO_ID / AUTH_LOGTO_SECRET exactly as
//               next-auth v5 does (setEnvDefaults); examples/nextjs-authjs/auth.ts.
//   VARIANT=v4  next-auth 4 with the custom provider of the Logto guide (wellKnown +
//               client.id_token_signed_response_alg 'ES384'); examples/nextjs-authjs/v4/.
//               Served through next-auth's Pages-Router API handler (the App-Router handler
//               reads next/headers, which needs Next.js); both call the same AuthHandler.
//
// Env: VARIANT, PORT, AUTH_SECRET, AUTH_LOGTO_ISSUER, AUTH_LOGTO_ID, AUTH_LOGTO_SECRET.
// Prints "listening <origin>" on stdout once it accepts connections.

import http from 'node:http';
import { createRequire } from 'node:module';

import { Auth, setEnvDefaults } from '@auth/core';
import Logto from '@auth/core/providers/logto';

const require = createRequire(import.meta.url);
const BASE_PATH = '/api/auth';
const port = Number(process.env.PORT);
const origin = `http://localhost:${port}`;
const variant = process.env.VARIANT;

// --- v5: what `NextAuth({ providers: [Logto] })` sets up in examples/nextjs-authjs/auth.ts ---

function v5Config() {
  const config = { providers: [Logto], basePath: BASE_PATH };
  setEnvDefaults(process.env, config);
  return config;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function v5Handle(config, req, res) {
  const body = ['GET', 'HEAD'].includes(req.method) ? undefined : await readBody(req);
  const request = new Request(new URL(req.url, origin), {
    method: req.method,
    headers: req.headers,
    body,
  });
  const response = await Auth(request, config);
  const headers = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

async function v5Session(config, req) {
  // What `auth()` does in a server component: ask Auth.js for the session of these cookies.
  const request = new Request(`${origin}${BASE_PATH}/session`, {
    headers: { cookie: req.headers.cookie ?? '' },
  });
  const response = await Auth(request, config);
  return response.json();
}

// --- v4: the provider of examples/nextjs-authjs/v4/app/api/auth/[...nextauth]/route.ts ---

function v4Options() {
  return {
    providers: [
      {
        id: 'logto',
        name: 'Logto',
        type: 'oauth',
        wellKnown: `${process.env.AUTH_LOGTO_ISSUER}/.well-known/openid-configuration`,
        authorization: { params: { scope: 'openid offline_access profile email' } },
        clientId: process.env.AUTH_LOGTO_ID,
        clientSecret: process.env.AUTH_LOGTO_SECRET,
        client: {
          id_token_signed_response_alg: 'ES384',
        },
        profile(profile) {
          return {
            id: profile.sub,
            name: profile.name ?? profile.username,
            email: profile.email,
            image: profile.picture,
          };
        },
      },
    ],
    secret: process.env.AUTH_SECRET,
  };
}

function parseCookies(header) {
  const cookies = {};
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0) cookies[part.slice(0, index).trim()] = decodeURIComponent(part.slice(index + 1).trim());
  }
  return cookies;
}

// Next.js API-route request and response helpers, as Next.js adds them for pages/api routes.
async function asNextApi(req, res) {
  const url = new URL(req.url, origin);
  const raw = ['GET', 'HEAD'].includes(req.method) ? '' : (await readBody(req)).toString();
  req.query = {
    ...Object.fromEntries(url.searchParams),
    nextauth: url.pathname.slice(BASE_PATH.length + 1).split('/').filter(Boolean),
  };
  req.body = raw ? Object.fromEntries(new URLSearchParams(raw)) : {};
  req.cookies = parseCookies(req.headers.cookie);
  res.status = (code) => {
    res.statusCode = code;
    return res;
  };
  res.json = (value) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(value));
  };
  res.send = (value) => {
    if (value !== null && typeof value === 'object') return res.json(value);
    res.end(value);
  };
}

// --- the app ---

function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function home(session) {
  const user = session?.user;
  const callback = encodeURIComponent(`${origin}/`);
  const body = user
    ? `<p>Signed in as <span id="name">${escapeHtml(user.name)}</span>
       (<span id="email">${escapeHtml(user.email)}</span>)</p>
       <a href="${BASE_PATH}/signout?callbackUrl=${callback}">Sign out</a>`
    : `<p id="signed-out">Not signed in</p>
       <a href="${BASE_PATH}/signin?callbackUrl=${callback}">Sign in</a>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
    <title>Auth.js ${variant} with Portico</title></head>
    <body><h1>Auth.js ${variant} with Portico</h1>${body}</body></html>`;
}

async function main() {
  let handle;
  let session;
  if (variant === 'v5') {
    const config = v5Config();
    handle = (req, res) => v5Handle(config, req, res);
    session = (req) => v5Session(config, req);
  } else if (variant === 'v4') {
    process.env.NEXTAUTH_URL = `${origin}${BASE_PATH}`;
    const { default: NextAuth, getServerSession } = require('next-auth/next');
    const options = v4Options();
    const handler = NextAuth(options);
    handle = async (req, res) => {
      await asNextApi(req, res);
      await handler(req, res);
    };
    session = async (req) => {
      req.cookies = parseCookies(req.headers.cookie);
      const headers = {};
      const res = { getHeader: (n) => headers[n], setHeader: (n, v) => (headers[n] = v) };
      return getServerSession(req, res, options);
    };
  } else {
    throw new Error(`VARIANT must be v5 or v4, not ${variant}`);
  }

  const server = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, origin).pathname;
      if (path === BASE_PATH || path.startsWith(`${BASE_PATH}/`)) {
        await handle(req, res);
      } else if (path === '/') {
        const html = home(await session(req));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(html);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      }
    } catch (error) {
      console.error(error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error?.stack ?? error));
    }
  });
  server.listen(port, '127.0.0.1', () => console.log(`listening ${origin}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
