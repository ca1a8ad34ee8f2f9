// A real OAuth 2.0 authorization server for authsec interop tests, built on panva/oidc-provider 9.
// Usage: node as.mjs [port]   (0 or none = a free port). Prints "READY <issuer> pid=<pid>" when
// listening on 127.0.0.1.
// Env: MCP_RESOURCES  comma-separated allowed resource indicators (first = default)
//      AS_TTL         access token lifetime in seconds (default 300)
//      SIGNIN_REDIRECT_URI  when set, adds the sign-in client (docs/sign-in.md) with this redirect URI
// Clients (secret "<client_id>-secret", client_secret_basic, client_credentials grant):
//   mcp-rs256, mcp-ps256, mcp-es256, mcp-es384, mcp-eddsa, mcp-ed25519 -> JWT access tokens
//   mcp-opaque -> opaque tokens (introspection + revocation); mcp-rs -> the resource server,
//   which may only introspect; mcp-blog -> RS256 JWTs with scopes "read write" carrying the RBAC
//   claims of the AuthSec blog's user (email, tenant_id, roles, groups, resources).
// With SIGNIN_REDIRECT_URI: mcp-signin, a public client (no secret, PKCE S256 required) with the
//   authorization code grant, signed in through oidc-provider's devInteractions pages (any login
//   and password; the account id is the login). Its RS256 JWT access tokens carry the requested
//   resource as `aud`, `email` (<login>@example.com) and `roles: ["admin"]`; its ID token carries
//   `email` for the `email` scope. It also gets an opaque refresh token (revocable: JWT access
//   tokens are not, oidc-provider answers unsupported_token_type), revocation open to it.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const RESOURCES = (process.env.MCP_RESOURCES || 'http://127.0.0.1:8080/mcp,http://127.0.0.1:8080/other').split(',');
const TTL = Number(process.env.AS_TTL || 300);
const SCOPE = 'mcp:read mcp:write';
const BLOG_SCOPE = 'read write';
// The AuthSec blog's user (issue 16): what its decorator examples are evaluated against.
const BLOG_CLAIMS = {
  email: 'dev@example.com',
  tenant_id: 'tenant-a',
  roles: ['admin', 'developer'],
  groups: ['engineering'],
  resources: ['projects', 'analytics'],
};

function jwk(type, opts, kid, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, opts);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const KEYS = [
  jwk('rsa', { modulusLength: 2048 }, 'rsa', 'RS256'),
  jwk('rsa', { modulusLength: 2048 }, 'rsa-pss', 'PS256'),
  jwk('ec', { namedCurve: 'P-256' }, 'ec', 'ES256'),
  jwk('ec', { namedCurve: 'P-384' }, 'ec384', 'ES384'),
  jwk('ed25519', {}, 'ed', 'EdDSA'),
  jwk('ed25519', {}, 'ed25519', 'Ed25519'),
];

const PROFILE = {
  'mcp-rs256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'mcp-ps256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'PS256' } } },
  'mcp-es256': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  'mcp-es384': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES384' } } },
  'mcp-eddsa': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } },
  'mcp-ed25519': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'Ed25519' } } },
  'mcp-opaque': { accessTokenFormat: 'opaque' },
  'mcp-blog': { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
};

const SIGNIN_REDIRECT_URI = process.env.SIGNIN_REDIRECT_URI;
const SIGNIN_CLIENT = 'mcp-signin';
const signinClaims = (accountId) => ({ email: `${accountId}@example.com`, roles: ['admin'] });

const clients = [
  ...Object.keys(PROFILE).map((client_id) => ({
    client_id,
    client_secret: `${client_id}-secret`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: client_id === 'mcp-blog' ? BLOG_SCOPE : SCOPE,
  })),
  {
    client_id: 'mcp-rs',
    client_secret: 'mcp-rs-secret',
    grant_types: [],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];
if (SIGNIN_REDIRECT_URI) {
  clients.push({
    client_id: SIGNIN_CLIENT,
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [SIGNIN_REDIRECT_URI],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: `openid email ${SCOPE}`,
  });
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.argv[2] || 0), '127.0.0.1', resolve));
const ISSUER = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(ISSUER, {
  clients,
  jwks: { keys: KEYS },
  scopes: [...SCOPE.split(' '), ...BLOG_SCOPE.split(' ')],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: signinClaims(sub).email, email_verified: true }),
  }),
  // The sign-in client gets an (opaque, revocable) refresh token without offline_access: JWT
  // access tokens cannot be revoked at oidc-provider (unsupported_token_type), so this is what
  // oauth_logout's revocation reaches. Everyone else: oidc-provider's default rule.
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && (client.clientId === SIGNIN_CLIENT || code.scopes.has('offline_access')),
  extraTokenClaims: async (ctx, token) => {
    if (token.clientId === 'mcp-blog') return BLOG_CLAIMS;
    if (token.clientId === SIGNIN_CLIENT && token.accountId) return signinClaims(token.accountId);
    return undefined;
  },
  ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL },
  features: {
    devInteractions: { enabled: Boolean(SIGNIN_REDIRECT_URI) },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCES[0],
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator, client) => {
        if (!RESOURCES.includes(resourceIndicator)) throw new errors.InvalidTarget();
        return {
          scope: client.clientId === 'mcp-blog' ? BLOG_SCOPE : SCOPE,
          audience: resourceIndicator,
          accessTokenTTL: TTL,
          ...(PROFILE[client.clientId === SIGNIN_CLIENT ? 'mcp-rs256' : client.clientId] ?? PROFILE['mcp-opaque']),
        };
      },
    },
  },
});
server.on('request', provider.callback());
console.log(`READY ${ISSUER} pid=${process.pid}`);
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
