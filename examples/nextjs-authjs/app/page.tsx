import { auth } from '@/auth';

import SignIn from './components/sign-in';
import SignOut from './components/sign-out';

export default async function Home() {
  const session = await auth();
  return (
    <main>
      <h1>Auth.js with Portico</h1>
      {session?.user ? (
        <>
          <p>
            Signed in as <span id="name">{session.user.name}</span> (
            <span id="email">{session.user.email}</span>)
          </p>
          <SignOut />
        </>
      ) : (
        <>
          <p id="signed-out">Not signed in</p>
          <SignIn />
        </>
      )}
    </main>
  );
}
