import NextAuth from 'next-auth';
import Logto from 'next-auth/providers/logto';

// Auth.js's built-in Logto provider, unchanged. It reads AUTH_LOGTO_ISSUER (Portico's endpoint
// followed by /oidc), AUTH_LOGTO_ID and AUTH_LOGTO_SECRET from the environment, and takes the
// user's name, email and picture from Portico's ID token.
export const { handlers, signIn, signOut, auth } = NextAuth({
  providers: [Logto],
});
