'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { useT } from '@/components/LanguageProvider';
import { api, errorText, type LoginRequest, type LoginResponse } from '@/lib/api';
import { getPushClient } from '@/lib/gatebell';
import { homeFor, loadSession, saveSession, type Role, type User } from '@/lib/session';

const DEMO_PASSWORD = 'gatebell-demo';
const DEMO_ACCOUNTS: { email: string; name: string; role: Role; unit?: string }[] = [
  { email: 'guard@demo.gatebell', name: 'Gita Guard', role: 'guard' },
  { email: 'asha@demo.gatebell', name: 'Asha Rao', role: 'resident', unit: 'A-101' },
  { email: 'arjun@demo.gatebell', name: 'Arjun Rao', role: 'resident', unit: 'A-101' },
  { email: 'bina@demo.gatebell', name: 'Bina Shah', role: 'resident', unit: 'B-202' },
  { email: 'bharat@demo.gatebell', name: 'Bharat Shah', role: 'resident', unit: 'B-202' },
  { email: 'admin@demo.gatebell', name: 'Adi Admin', role: 'admin' },
];

/** Where to go after signing in: `?next=` when it is a path of this site. */
function nextPath(user: User): string {
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : homeFor(user);
}

export default function SignInPage() {
  const router = useRouter();
  const { t, rich } = useT();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [checked, setChecked] = useState(false);

  useEffect(() => {
    const s = loadSession();
    if (s) router.replace(nextPath(s.user));
    else setChecked(true);
  }, [router]);

  async function signIn(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<LoginResponse>('/auth/login', {
        method: 'POST',
        body: { email: email.trim(), password } satisfies LoginRequest,
      });
      saveSession({ token: res.token, user: res.user });
      // The package registers this browser's subscription (if it has one) for this user
      // and stores the session for the service worker's Approve / Reject.
      try {
        const client = await getPushClient();
        await client.signIn(res.token, res.user.id);
      } catch (err) {
        console.warn('gatebell push client:', err);
      }
      router.replace(nextPath(res.user));
    } catch (err) {
      setError(errorText(err, t));
      setBusy(false);
    }
  }

  return (
    <>
      <AppHeader session={null} />
      <main className="narrow">
        <section className="card">
          <h1>{t('signIn.title')}</h1>
          <form onSubmit={signIn} className="form">
            <label>
              {t('signIn.email')}
              <input type="email" name="email" autoComplete="username" required value={email}
                onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              {t('signIn.password')}
              <input type="password" name="password" autoComplete="current-password" required value={password}
                onChange={(e) => setPassword(e.target.value)} />
            </label>
            {error && <p className="error" role="alert">{error}</p>}
            <button type="submit" className="primary" disabled={busy || !checked}>
              {busy ? t('signIn.busy') : t('signIn.submit')}
            </button>
          </form>
        </section>
        <section className="card">
          <h2>{t('signIn.demoAccounts')}</h2>
          <p className="muted small">
            {rich('signIn.demoHelp', { password: <code>{DEMO_PASSWORD}</code> })}
          </p>
          <ul className="accounts">
            {DEMO_ACCOUNTS.map((a) => (
              <li key={a.email}>
                <button type="button" className="link-button" onClick={() => {
                  setEmail(a.email);
                  setPassword(DEMO_PASSWORD);
                }}>
                  {a.email}
                </button>
                <span className="muted">
                  {' '}
                  {a.unit
                    ? t('signIn.accountRoleUnit', { name: a.name, role: t(`role.${a.role}`), unit: a.unit })
                    : t('signIn.accountRole', { name: a.name, role: t(`role.${a.role}`) })}
                </span>
              </li>
            ))}
          </ul>
        </section>
      </main>
    </>
  );
}
