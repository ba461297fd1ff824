'use client';

import { useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import {
  api,
  ApiError,
  errorText,
  outcomeOf,
  STATUS_LABEL,
  timeOf,
  type CheckinRequest,
  type Resident,
  type Visit,
  type VisitList,
  type WalkinRequest,
} from '@/lib/api';
import { useLiveEvents, useLoader, useSession } from '@/lib/hooks';
import type { Session } from '@/lib/session';

export default function GuardPage() {
  const session = useSession(['guard', 'admin']);
  const token = session?.token ?? null;
  const walkins = useLoader(token ? () => api<VisitList>('/visits?kind=walkin', { token }) : null);
  const live = useLiveEvents(token, { visit: walkins.reload, ready: walkins.reload });
  const isGuard = session?.user.role === 'guard';

  return (
    <>
      <AppHeader session={session} live={live} />
      {session && (
        <main className="grid">
          <div className="col">
            {isGuard ? (
              <>
                <WalkIn session={session} onDone={walkins.reload} />
                <CheckIn session={session} />
              </>
            ) : (
              <section className="card">
                <h2>The gate</h2>
                <p className="muted">Only guards register visitors; this is a read-only view.</p>
              </section>
            )}
          </div>
          <div className="col">
            <section className="card" aria-labelledby="walkins-h" data-testid="walkins">
              <h2 id="walkins-h">Today’s walk-ins</h2>
              {walkins.error && <p className="error">{walkins.error}</p>}
              {walkins.data === null ? (
                <p className="muted">Loading…</p>
              ) : walkins.data.items.length === 0 ? (
                <p className="muted">No walk-ins in the last 24 hours.</p>
              ) : (
                <ul className="list">
                  {walkins.data.items.map((v) => (
                    <li key={v.id} className="row" data-visit-id={v.id}>
                      <div>
                        <strong>{v.visitorName}</strong>
                        {v.purpose && <span className="muted"> · {v.purpose}</span>}
                        <div className="muted small">
                          for {v.hostName}
                          {v.unit ? ` (${v.unit})` : ''} · {timeOf(v.createdAt)}
                          {v.decidedAt ? ` · ${timeOf(v.decidedAt)}` : ''}
                        </div>
                        <div className="small" data-testid="outcome">{outcomeOf(v)}</div>
                      </div>
                      <span className={`status status-${v.status.toLowerCase()}`} data-testid="status">
                        {STATUS_LABEL[v.status]}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
        </main>
      )}
    </>
  );
}

function WalkIn({ session, onDone }: { session: Session; onDone: () => void }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Resident[] | null>(null);
  const [host, setHost] = useState<Resident | null>(null);
  const [visitor, setVisitor] = useState('');
  const [purpose, setPurpose] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  // Search as the guard types (name or unit), a little after the last key.
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults(null);
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api<Resident[]>(`/residents?q=${encodeURIComponent(q)}`, { token: session.token }).then(
        (r) => live && setResults(r),
        (e) => live && setError(errorText(e)),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query, session.token]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!host) {
      setError('Pick the resident the visitor has come to see.');
      return;
    }
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const v = await api<Visit>('/visits/walkin', {
        method: 'POST',
        token: session.token,
        body: { visitorName: visitor.trim(), hostId: host.id, purpose: purpose.trim() } satisfies WalkinRequest,
      });
      setDone(`${v.hostName} has been asked about ${v.visitorName}.`);
      setVisitor('');
      setPurpose('');
      setHost(null);
      setQuery('');
      onDone();
    } catch (err) {
      setError(walkinFailure(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="walkin-h">
      <h2 id="walkin-h">Register a walk-in</h2>
      <form className="form" onSubmit={submit}>
        <label>
          Resident (name or unit)
          <input type="search" placeholder="asha, A-101…" value={query}
            onChange={(e) => { setQuery(e.target.value); setHost(null); }} />
        </label>
        {host ? (
          <p className="picked" data-testid="host">
            For <strong>{host.name}</strong>{host.unit ? ` (${host.unit})` : ''}{' '}
            <button type="button" className="link-button" onClick={() => setHost(null)}>change</button>
          </p>
        ) : (
          results && (
            <ul className="choices" aria-label="Residents">
              {results.length === 0 && <li className="muted">No resident matches.</li>}
              {results.map((r) => (
                <li key={r.id}>
                  <button type="button" onClick={() => setHost(r)}>
                    {r.name}
                    {r.unit ? <span className="muted"> · {r.unit}</span> : null}
                  </button>
                </li>
              ))}
            </ul>
          )
        )}
        <div className="two">
          <label>
            Visitor’s name
            <input name="visitorName" required value={visitor} onChange={(e) => setVisitor(e.target.value)} />
          </label>
          <label>
            Purpose
            <input name="purpose" required placeholder="delivery, guest…" value={purpose} onChange={(e) => setPurpose(e.target.value)} />
          </label>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        {done && <p className="ok" role="status">{done}</p>}
        <button type="submit" className="primary" disabled={busy || !host}>
          {busy ? 'Notifying…' : 'Notify resident'}
        </button>
      </form>
    </section>
  );
}

function CheckIn({ session }: { session: Session }) {
  const [otp, setOtp] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Visit | null>(null);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      setDone(await api<Visit>('/visits/checkin', { method: 'POST', token: session.token, body: { otp: otp.trim() } satisfies CheckinRequest }));
      setOtp('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="checkin-h">
      <h2 id="checkin-h">Check in an invited visitor</h2>
      <form className="form inline" onSubmit={submit}>
        <label>
          OTP
          <input name="otp" inputMode="numeric" pattern="[0-9]{6}" maxLength={6} placeholder="6 digits" required
            value={otp} onChange={(e) => setOtp(e.target.value.replace(/\D/g, ''))} />
        </label>
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Checking…' : 'Check in'}</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {done && (
        <p className="ok" role="status">
          {done.visitorName} checked in for {done.hostName}
          {done.unit ? ` (${done.unit})` : ''}; they have been told.
        </p>
      )}
    </section>
  );
}

/** What the guard reads when a walk-in was not recorded: with the server or its database out
 * of reach (503, no answer) the visitor is still at the gate, so say what to do now. */
function walkinFailure(err: unknown): string {
  if (err instanceof ApiError && (err.status === 503 || err.status === 0)) {
    return 'Gatebell cannot record this walk-in right now. Call the resident to ask, then try again in a moment.';
  }
  return errorText(err);
}
