'use client';

import { useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { useT } from '@/components/LanguageProvider';
import {
  api,
  ApiError,
  errorText,
  outcomeOf,
  statusLabel,
  timeOf,
  type CheckinRequest,
  type Resident,
  type Visit,
  type VisitList,
  type WalkinRequest,
} from '@/lib/api';
import { useLiveEvents, useLoader, useSession } from '@/lib/hooks';
import type { Translate } from '@/lib/i18n';
import type { Session } from '@/lib/session';

export default function GuardPage() {
  const session = useSession(['guard', 'admin']);
  const token = session?.token ?? null;
  const walkins = useLoader(token ? () => api<VisitList>('/visits?kind=walkin', { token }) : null);
  const live = useLiveEvents(token, { visit: walkins.reload, ready: walkins.reload });
  const isGuard = session?.user.role === 'guard';
  const { t, plural, locale } = useT();

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
                <h2>{t('guard.gate')}</h2>
                <p className="muted">{t('guard.readOnly')}</p>
              </section>
            )}
          </div>
          <div className="col">
            <section className="card" aria-labelledby="walkins-h" data-testid="walkins">
              <div className="card-head">
                <h2 id="walkins-h">{t('guard.walkinsTitle')}</h2>
                {!!walkins.data?.items.length && (
                  <span className="muted small" data-testid="walkin-count">{plural('guard.walkinCount', walkins.data.items.length)}</span>
                )}
              </div>
              {walkins.error && <p className="error">{walkins.error}</p>}
              {walkins.data === null ? (
                <p className="muted">{t('common.loading')}</p>
              ) : walkins.data.items.length === 0 ? (
                <p className="muted">{t('guard.noWalkins')}</p>
              ) : (
                <ul className="list">
                  {walkins.data.items.map((v) => (
                    <li key={v.id} className="row" data-visit-id={v.id}>
                      <div>
                        <strong>{v.visitorName}</strong>
                        {v.purpose && <span className="muted"> · {v.purpose}</span>}
                        <div className="muted small">
                          {t('guard.forHost', { host: `${v.hostName}${v.unit ? ` (${v.unit})` : ''}` })} · {timeOf(v.createdAt, locale)}
                          {v.decidedAt ? ` · ${timeOf(v.decidedAt, locale)}` : ''}
                        </div>
                        <div className="small" data-testid="outcome">{outcomeOf(v, t)}</div>
                      </div>
                      <span className={`status status-${v.status.toLowerCase()}`} data-testid="status">
                        {statusLabel(v.status, t)}
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
  const { t, rich } = useT();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Resident[] | null>(null);
  const [host, setHost] = useState<Resident | null>(null);
  const [visitor, setVisitor] = useState('');
  const [purpose, setPurpose] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Visit | null>(null);

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
        (e) => live && setError(errorText(e, t)),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [query, session.token, t]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!host) {
      setError(t('guard.pickResident'));
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
      setDone(v);
      setVisitor('');
      setPurpose('');
      setHost(null);
      setQuery('');
      onDone();
    } catch (err) {
      setError(walkinFailure(err, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="walkin-h">
      <h2 id="walkin-h">{t('guard.registerTitle')}</h2>
      <form className="form" onSubmit={submit}>
        <label>
          {t('guard.residentSearch')}
          <input type="search" placeholder="asha, A-101…" value={query}
            onChange={(e) => { setQuery(e.target.value); setHost(null); }} />
        </label>
        {host ? (
          <p className="picked" data-testid="host">
            {rich('guard.pickedFor', { name: <><strong>{host.name}</strong>{host.unit ? ` (${host.unit})` : ''}</> })}{' '}
            <button type="button" className="link-button" onClick={() => setHost(null)}>{t('guard.change')}</button>
          </p>
        ) : (
          results && (
            <ul className="choices" aria-label={t('guard.residents')}>
              {results.length === 0 && <li className="muted">{t('guard.noMatch')}</li>}
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
            {t('common.visitorName')}
            <input name="visitorName" required value={visitor} onChange={(e) => setVisitor(e.target.value)} />
          </label>
          <label>
            {t('common.purpose')}
            <input name="purpose" required placeholder={t('guard.purposePlaceholder')} value={purpose} onChange={(e) => setPurpose(e.target.value)} />
          </label>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        {done && <p className="ok" role="status">{t('guard.asked', { host: done.hostName, visitor: done.visitorName })}</p>}
        <button type="submit" className="primary" disabled={busy || !host}>
          {busy ? t('guard.notifying') : t('guard.notify')}
        </button>
      </form>
    </section>
  );
}

function CheckIn({ session }: { session: Session }) {
  const { t } = useT();
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
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="checkin-h">
      <h2 id="checkin-h">{t('guard.checkinTitle')}</h2>
      <form className="form inline" onSubmit={submit}>
        <label>
          {t('guard.otp')}
          <input name="otp" inputMode="numeric" pattern="[0-9]{6}" maxLength={6} placeholder={t('guard.otpPlaceholder')} required
            value={otp} onChange={(e) => setOtp(e.target.value.replace(/\D/g, ''))} />
        </label>
        <button type="submit" className="primary" disabled={busy}>{busy ? t('guard.checking') : t('guard.checkin')}</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {done && (
        <p className="ok" role="status">
          {t('guard.checkedIn', { visitor: done.visitorName, host: `${done.hostName}${done.unit ? ` (${done.unit})` : ''}` })}
        </p>
      )}
    </section>
  );
}

/** What the guard reads when a walk-in was not recorded: with the server or its database out
 * of reach (503, no answer) the visitor is still at the gate, so say what to do now. */
function walkinFailure(err: unknown, t: Translate): string {
  if (err instanceof ApiError && (err.status === 503 || err.status === 0)) {
    return t('guard.cannotRecord');
  }
  return errorText(err, t);
}
