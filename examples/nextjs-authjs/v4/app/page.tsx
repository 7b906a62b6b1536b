import { getServerSession } from 'next-auth';

import { authOptions } from '@/auth-options';

import { SignInButton, SignOutButton } from './buttons';

export default async function Home() {
  const session = await getServerSession(authOptions);
  return (
    <main>
      <h1>NextAuth v4 with Portico</h1>
      {session?.user ? (
        <>
          <p>
            Signed in as <span id="name">{session.user.name}</span> (
            <span id="email">{session.user.email}</span>)
          </p>
          <SignOutButton />
        </>
      ) : (
        <>
          <p id="signed-out">Not signed in</p>
          <SignInButton />
        </>
      )}
    </main>
  );
}
