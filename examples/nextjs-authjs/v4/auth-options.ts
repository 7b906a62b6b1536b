import type { NextAuthOptions } from 'next-auth';

// The custom provider of the Logto guide for NextAuth v4, pointed at Portico.
export const authOptions: NextAuthOptions = {
  providers: [
    {
      id: 'logto',
      name: 'Logto',
      type: 'oauth',
      // Portico's "OpenID Provider configuration endpoint": <endpoint>/oidc/.well-known/...
      wellKnown: `${process.env.AUTH_LOGTO_ISSUER}/.well-known/openid-configuration`,
      authorization: { params: { scope: 'openid offline_access profile email' } },
      clientId: process.env.AUTH_LOGTO_ID,
      clientSecret: process.env.AUTH_LOGTO_SECRET,
      client: {
        // Portico signs ID tokens with ES384, as Logto does; NextAuth v4 expects RS256.
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
};
