'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';

import { setNavigator } from '@/lib/gatebell';

import { signOut, type LiveState } from '@/lib/hooks';
import type { Session } from '@/lib/session';

export default function AppHeader({ session, live }: { session: Session | null; live?: LiveState }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  // A notification tap with this window open routes through Next's router (no page load).
  useEffect(() => setNavigator((path) => router.push(path)), [router]);
  return (
    <header className="topbar">
      <a className="brand" href="/">
        <img src="/icon.svg" alt="" width={22} height={22} /> Gatebell
      </a>
      {session && (
        <div className="who">
          {live && (
            <span className={`live live-${live}`} title="Live updates from the server" data-testid="live">
              {live === 'live' ? 'live' : live === 'connecting' ? 'connecting…' : 'reconnecting…'}
            </span>
          )}
          <span>
            {session.user.name}
            <span className="muted">
              {' '}
              · {session.user.role}
              {session.user.unit ? ` · ${session.user.unit}` : ''}
            </span>
          </span>
          <button
            className="link-button"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await signOut(session);
              router.replace('/');
            }}
          >
            {busy ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      )}
    </header>
  );
}
