import type { ReactNode } from 'react';

export const metadata = { title: 'NextAuth v4 with Portico' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
