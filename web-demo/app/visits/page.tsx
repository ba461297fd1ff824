'use client';

// The page a notification tap opens: /visits?id=<id> (the worker's route, reachable through
// Next's router) or /visits/<id> (links in texts and emails), optionally with
// action=approve|reject. The export has one file, visits.html; the server answers every
// /visits/<id> with it, so the id comes from the address bar, not from a route segment.
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { Suspense, useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { useT } from '@/components/LanguageProvider';
import { api, errorText, statusLabel, timeOf, type Visit } from '@/lib/api';
import { useLiveEvents, useLoader, useSession } from '@/lib/hooks';

function visitIdFromPath(): string | null {
  const parts = window.location.pathname.split('/').filter(Boolean);
  return parts.length === 2 && parts[0] === 'visits' ? decodeURIComponent(parts[1]) : null;
}

export default function VisitPage() {
  // useSearchParams needs a Suspense boundary in a static export.
  return (
    <Suspense fallback={null}>
      <Visit />
    </Suspense>
  );
}

function Visit() {
  const session = useSession();
  const { t, locale } = useT();
  const params = useSearchParams();
  const [id, setId] = useState<string | null | undefined>(undefined);
  const [action, setAction] = useState<'approve' | 'reject' | null>(null);
  // Again on every client-side move to another visit (a tap while the page is open).
  useEffect(() => {
    setId(params.get('id') || visitIdFromPath());
    const a = params.get('action');
    setAction(a === 'approve' || a === 'reject' ? a : null);
  }, [params]);

  const token = session?.token ?? null;
  const visit = useLoader(token && id ? () => api<Visit>(`/visits/${encodeURIComponent(id)}`, { token }) : null);
  const live = useLiveEvents(token, {
    inbox: visit.reload,
    visit: (changed) => changed === id && visit.reload(),
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function decide(a: 'approve' | 'reject') {
    if (!session || !id) return;
    setBusy(true);
    setError(null);
    try {
      await api(`/visits/${encodeURIComponent(id)}/${a}`, { method: 'POST', token: session.token });
      setAction(null);
      const url = new URL(window.location.href);
      url.searchParams.delete('action');
      window.history.replaceState(null, '', url);
    } catch (e) {
      setError(errorText(e, t));
    } finally {
      setBusy(false);
      visit.reload();
    }
  }

  const v = visit.data;
  const mine = v && session && v.hostId === session.user.id;
  const back = session?.user.role === 'resident' ? '/resident' : '/guard';

  return (
    <>
      <AppHeader session={session} live={live} />
      {session && (
        <main className="narrow">
          <p><Link href={back}>{t('visit.back')}</Link></p>
          <section className="card" data-testid="visit">
            {id === null && <p className="error">{t('visit.noVisit')}</p>}
            {visit.error && <p className="error">{visit.error}</p>}
            {id && !v && !visit.error && <p className="muted">{t('common.loading')}</p>}
            {v && (
              <>
                <h1>{v.visitorName}</h1>
                <p>
                  <span className={`status status-${v.status.toLowerCase()}`} data-testid="status">{statusLabel(v.status, t)}</span>
                </p>
                <dl className="facts">
                  <dt>{t(v.kind === 'walkin' ? 'visit.walkinFor' : 'visit.invitedBy')}</dt>
                  <dd>{v.hostName}{v.unit ? ` (${v.unit})` : ''}</dd>
                  {v.purpose && (<><dt>{t('common.purpose')}</dt><dd>{v.purpose}</dd></>)}
                  {v.phone && (<><dt>{t('common.phone')}</dt><dd>{v.phone}</dd></>)}
                  <dt>{t(v.kind === 'walkin' ? 'visit.arrived' : 'visit.invited')}</dt>
                  <dd>{timeOf(v.createdAt, locale)}</dd>
                  {v.checkedInAt && (<><dt>{t('visit.checkedIn')}</dt><dd>{timeOf(v.checkedInAt, locale)}</dd></>)}
                  {v.decidedAt && (<><dt>{t('visit.decided')}</dt><dd>{t('visit.decidedAt', { who: v.decidedBy ?? '', time: timeOf(v.decidedAt, locale) })}</dd></>)}
                </dl>
                {v.status === 'PENDING' && mine && (
                  <div className={`decide ${action ? 'asked' : ''}`}>
                    {action && (
                      <p className="question" data-testid="question">
                        {t(action === 'approve' ? 'visit.letIn' : 'visit.turnAway', { name: v.visitorName })}
                      </p>
                    )}
                    <div className="actions">
                      {action !== 'reject' && (
                        <button className="approve" disabled={busy} onClick={() => decide('approve')}>
                          {action === 'approve' ? t('visit.yesApprove') : t('resident.approve')}
                        </button>
                      )}
                      {action !== 'approve' && (
                        <button className="reject" disabled={busy} onClick={() => decide('reject')}>
                          {action === 'reject' ? t('visit.yesReject') : t('resident.reject')}
                        </button>
                      )}
                      {action && (
                        <button className="link-button" disabled={busy} onClick={() => setAction(null)}>{t('visit.notNow')}</button>
                      )}
                    </div>
                  </div>
                )}
                {action && v.status !== 'PENDING' && (
                  <p className="notice">{t('visit.decidedAlready')}</p>
                )}
                {error && <p className="error" role="alert">{error}</p>}
              </>
            )}
          </section>
        </main>
      )}
    </>
  );
}
