'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';

import { useT } from '@/components/LanguageProvider';
import LanguageSwitch from '@/components/LanguageSwitch';
import { setNavigator } from '@/lib/gatebell';

import { signOut, type LiveState } from '@/lib/hooks';
import type { Session } from '@/lib/session';

const LIVE_LABEL = { live: 'header.live', connecting: 'header.connecting', reconnecting: 'header.reconnecting' } as const;

export default function AppHeader({ session, live }: { session: Session | null; live?: LiveState }) {
  const router = useRouter();
  const { t } = useT();
  const [busy, setBusy] = useState(false);
  // A notification tap with this window open routes through Next's router (no page load).
  useEffect(() => setNavigator((path) => router.push(path)), [router]);
  return (
    <header className="topbar">
      <a className="brand" href="/">
        <img src="/icon.svg" alt="" width={22} height={22} /> Gatebell
      </a>
      <div className="who">
        {session && live && (
          <span className={`live live-${live}`} title={t('header.liveTitle')} data-testid="live">
            {t(LIVE_LABEL[live])}
          </span>
        )}
        {session && (
          <span>
            {session.user.name}
            <span className="muted">
              {' '}
              · {t(`role.${session.user.role}`)}
              {session.user.unit ? ` · ${session.user.unit}` : ''}
            </span>
          </span>
        )}
        <LanguageSwitch session={session} />
        {session && (
          <button
            className="link-button"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await signOut(session);
              router.replace('/');
            }}
          >
            {busy ? t('header.signingOut') : t('header.signOut')}
          </button>
        )}
      </div>
    </header>
  );
}
