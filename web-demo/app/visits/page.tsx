'use client';

// The page a notification tap opens: /visits?id=<id> (the worker's route, reachable through
// Next's router) or /visits/<id> (links in texts and emails), optionally with
// action=approve|reject. The export has one file, visits.html; the server answers every
// /visits/<id> with it, so the id comes from the address bar, not from a route segment.
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { Suspense, useEffect, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { api, errorText, STATUS_LABEL, timeOf, type Visit } from '@/lib/api';
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
      setError(errorText(e));
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
          <p><Link href={back}>← Back</Link></p>
          <section className="card" data-testid="visit">
            {id === null && <p className="error">This address names no visit.</p>}
            {visit.error && <p className="error">{visit.error}</p>}
            {id && !v && !visit.error && <p className="muted">Loading…</p>}
            {v && (
              <>
                <h1>{v.visitorName}</h1>
                <p>
                  <span className={`status status-${v.status.toLowerCase()}`} data-testid="status">{STATUS_LABEL[v.status]}</span>
                </p>
                <dl className="facts">
                  <dt>{v.kind === 'walkin' ? 'Walk-in for' : 'Invited by'}</dt>
                  <dd>{v.hostName}{v.unit ? ` (${v.unit})` : ''}</dd>
                  {v.purpose && (<><dt>Purpose</dt><dd>{v.purpose}</dd></>)}
                  {v.phone && (<><dt>Phone</dt><dd>{v.phone}</dd></>)}
                  <dt>{v.kind === 'walkin' ? 'Arrived' : 'Invited'}</dt>
                  <dd>{timeOf(v.createdAt)}</dd>
                  {v.checkedInAt && (<><dt>Checked in</dt><dd>{timeOf(v.checkedInAt)}</dd></>)}
                  {v.decidedAt && (<><dt>Decided</dt><dd>{v.decidedBy ?? ''} at {timeOf(v.decidedAt)}</dd></>)}
                </dl>
                {v.status === 'PENDING' && mine && (
                  <div className={`decide ${action ? 'asked' : ''}`}>
                    {action && (
                      <p className="question" data-testid="question">
                        {action === 'approve' ? `Let ${v.visitorName} in?` : `Turn ${v.visitorName} away?`}
                      </p>
                    )}
                    <div className="actions">
                      {action !== 'reject' && (
                        <button className="approve" disabled={busy} onClick={() => decide('approve')}>
                          {action === 'approve' ? 'Yes, approve' : 'Approve'}
                        </button>
                      )}
                      {action !== 'approve' && (
                        <button className="reject" disabled={busy} onClick={() => decide('reject')}>
                          {action === 'reject' ? 'Yes, reject' : 'Reject'}
                        </button>
                      )}
                      {action && (
                        <button className="link-button" disabled={busy} onClick={() => setAction(null)}>Not now</button>
                      )}
                    </div>
                  </div>
                )}
                {action && v.status !== 'PENDING' && (
                  <p className="notice">This visit was decided already.</p>
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
