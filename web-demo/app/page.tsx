'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { api, errorText, type LoginRequest, type LoginResponse } from '@/lib/api';
import { getPushClient } from '@/lib/gatebell';
import { homeFor, loadSession, saveSession, type User } from '@/lib/session';

const DEMO_PASSWORD = 'gatebell-demo';
const DEMO_ACCOUNTS: { email: string; who: string }[] = [
  { email: 'guard@demo.gatebell', who: 'Gita Guard — guard' },
  { email: 'asha@demo.gatebell', who: 'Asha Rao — resident, A-101' },
  { email: 'arjun@demo.gatebell', who: 'Arjun Rao — resident, A-101' },
  { email: 'bina@demo.gatebell', who: 'Bina Shah — resident, B-202' },
  { email: 'bharat@demo.gatebell', who: 'Bharat Shah — resident, B-202' },
  { email: 'admin@demo.gatebell', who: 'Adi Admin — admin' },
];

/** Where to go after signing in: `?next=` when it is a path of this site. */
function nextPath(user: User): string {
  const next = new URLSearchParams(location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : homeFor(user);
}

export default function SignInPage() {
  const router = useRouter();
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
      setError(errorText(err));
      setBusy(false);
    }
  }

  return (
    <>
      <AppHeader session={null} />
      <main className="narrow">
        <section className="card">
          <h1>Sign in</h1>
          <form onSubmit={signIn} className="form">
            <label>
              Email
              <input type="email" name="email" autoComplete="username" required value={email}
                onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              Password
              <input type="password" name="password" autoComplete="current-password" required value={password}
                onChange={(e) => setPassword(e.target.value)} />
            </label>
            {error && <p className="error" role="alert">{error}</p>}
            <button type="submit" className="primary" disabled={busy || !checked}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
        </section>
        <section className="card">
          <h2>Demo accounts</h2>
          <p className="muted small">
            Password for all: <code>{DEMO_PASSWORD}</code>. Open the guard and a resident in two windows
            (one of them private) to see a walk-in travel from the gate to the flat.
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
                <span className="muted"> {a.who}</span>
              </li>
            ))}
          </ul>
        </section>
      </main>
    </>
  );
}
