'use client';

import { useCallback, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import NotifySwitch from '@/components/NotifySwitch';
import QrCode from '@/components/QrCode';
import {
  api,
  errorText,
  timeOf,
  type HouseholdSetting,
  type InboxItem,
  type InviteRequest,
  type InviteResponse,
  type NotificationPage,
  type ChannelPreferences,
  type Channels,
  type Preferences,
  type PreferencesUpdate,
  type Visit,
  type VisitList,
} from '@/lib/api';
import { useLiveEvents, useLoader, useSession } from '@/lib/hooks';
import type { Session } from '@/lib/session';

export default function ResidentPage() {
  const session = useSession(['resident']);
  const token = session?.token ?? null;

  const inbox = useLoader(
    token ? () => api<NotificationPage>('/notifications', { token }) : null,
  );
  const pending = useLoader(token ? () => api<VisitList>('/dashboard/my-requests', { token }) : null);
  const refresh = useCallback(() => {
    inbox.reload();
    pending.reload();
  }, [inbox.reload, pending.reload]); // eslint-disable-line react-hooks/exhaustive-deps
  const live = useLiveEvents(token, { inbox: refresh, visit: refresh, ready: refresh });

  return (
    <>
      <AppHeader session={session} live={live} />
      {session && (
        <main className="grid">
          <div className="col">
            <Pending session={session} visits={pending.data?.items ?? null} error={pending.error} onChange={refresh} />
            <Inbox session={session} data={inbox.data} error={inbox.error} onChange={inbox.reload} />
          </div>
          <div className="col">
            <NotifySwitch session={session} />
            <Household session={session} />
            <Reach session={session} />
            <Invite session={session} />
          </div>
        </main>
      )}
    </>
  );
}

function Pending({ session, visits, error, onChange }: {
  session: Session; visits: Visit[] | null; error: string | null; onChange: () => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  async function decide(v: Visit, action: 'approve' | 'reject') {
    setBusy(v.id);
    setFailure(null);
    try {
      await api(`/visits/${v.id}/${action}`, { method: 'POST', token: session.token });
    } catch (e) {
      setFailure(errorText(e));
    } finally {
      setBusy(null);
      onChange();
    }
  }
  return (
    <section className="card" aria-labelledby="pending-h" data-testid="pending">
      <h2 id="pending-h">At the gate now</h2>
      {error && <p className="error">{error}</p>}
      {failure && <p className="error" role="alert">{failure}</p>}
      {visits === null ? (
        <p className="muted">Loading…</p>
      ) : visits.length === 0 ? (
        <p className="muted">Nobody is waiting for you.</p>
      ) : (
        <ul className="list">
          {visits.map((v) => (
            <li key={v.id} className="row pending-row">
              <div>
                <strong>{v.visitorName}</strong>
                {v.purpose && <span className="muted"> · {v.purpose}</span>}
                <div className="muted small">at the gate since {timeOf(v.createdAt)}</div>
              </div>
              <div className="actions">
                <button className="approve" disabled={busy === v.id} onClick={() => decide(v, 'approve')}>Approve</button>
                <button className="reject" disabled={busy === v.id} onClick={() => decide(v, 'reject')}>Reject</button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Inbox({ session, data, error, onChange }: {
  session: Session; data: NotificationPage | null; error: string | null; onChange: () => void;
}) {
  async function markRead(n: InboxItem) {
    if (n.read) return;
    try {
      await api(`/notifications/${n.id}/read`, { method: 'POST', token: session.token });
    } finally {
      onChange();
    }
  }
  async function markAll() {
    try {
      await api('/notifications/read-all', { method: 'POST', token: session.token });
    } finally {
      onChange();
    }
  }
  return (
    <section className="card" aria-labelledby="inbox-h" data-testid="inbox">
      <div className="card-head">
        <h2 id="inbox-h">
          Notifications{' '}
          {!!data?.unreadCount && <span className="badge" data-testid="unread">{data.unreadCount}</span>}
        </h2>
        {!!data?.unreadCount && (
          <button className="link-button" onClick={markAll}>Mark all read</button>
        )}
      </div>
      {error && <p className="error">{error}</p>}
      {data === null ? (
        <p className="muted">Loading…</p>
      ) : data.items.length === 0 ? (
        <p className="muted">No notifications yet.</p>
      ) : (
        <ul className="list">
          {data.items.map((n) => (
            <li key={n.id} className={`row note ${n.read ? 'read' : 'unread'}`} data-read={n.read}>
              <div>
                <strong>{n.title}</strong>
                <div>{n.body}</div>
                <div className="muted small">
                  {timeOf(n.createdAt)}
                  {n.visitId && (
                    <>
                      {' · '}
                      <a href={`/visits/${n.visitId}`} onClick={() => markRead(n)}>open visit</a>
                    </>
                  )}
                </div>
              </div>
              {!n.read && (
                <button className="link-button small" onClick={() => markRead(n)}>Mark read</button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Invite({ session }: { session: Session }) {
  const [name, setName] = useState('');
  const [phone, setPhone] = useState('');
  const [purpose, setPurpose] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<InviteResponse | null>(null);

  async function invite(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api<InviteResponse>('/visits', {
        method: 'POST',
        token: session.token,
        body: {
          visitorName: name.trim(),
          ...(phone.trim() ? { phone: phone.trim() } : {}),
          ...(purpose.trim() ? { purpose: purpose.trim() } : {}),
        } satisfies InviteRequest,
      });
      setMade(res);
      setName('');
      setPhone('');
      setPurpose('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="invite-h">
      <h2 id="invite-h">Invite a visitor</h2>
      <form className="form" onSubmit={invite}>
        <label>
          Visitor’s name
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <div className="two">
          <label>
            Phone
            <input type="tel" placeholder="optional" value={phone} onChange={(e) => setPhone(e.target.value)} />
          </label>
          <label>
            Purpose
            <input placeholder="optional" value={purpose} onChange={(e) => setPurpose(e.target.value)} />
          </label>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Inviting…' : 'Invite'}</button>
      </form>
      {made && (
        <div className="invite-result" data-testid="invite-result">
          <div>
            <p>
              Give <strong>{made.visit.visitorName}</strong> this code for the gate:
            </p>
            <p className="otp" data-testid="otp">{made.otp}</p>
            {made.visit.validUntil && (
              <p className="muted small">valid until {new Date(made.visit.validUntil).toLocaleString()}</p>
            )}
          </div>
          <QrCode value={made.qr} label={`QR code for ${made.visit.visitorName}`} />
        </div>
      )}
    </section>
  );
}

/** Whom a walk-in for this flat asks: everyone living there (first answer wins) or the host. */
function Household({ session }: { session: Session }) {
  const prefs = useLoader(() => api<Preferences>('/me/preferences', { token: session.token }));
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  async function choose(household: HouseholdSetting) {
    setSaving(true);
    setFailure(null);
    try {
      const body: PreferencesUpdate = { household };
      await api<Preferences>('/me/preferences', { method: 'PUT', token: session.token, body });
    } catch (e) {
      setFailure(errorText(e));
    } finally {
      setSaving(false);
      prefs.reload();
    }
  }
  const current = prefs.data?.household;
  const unit = session.user.unit ?? 'your flat';
  return (
    <section className="card" aria-labelledby="household-h" data-testid="household">
      <h2 id="household-h">When a visitor comes for you</h2>
      {(prefs.error || failure) && <p className="error" role="alert">{prefs.error ?? failure}</p>}
      <fieldset disabled={saving || !current}>
        <legend className="muted">Who is asked at the gate</legend>
        <label>
          <input type="radio" name="household" checked={current === 'household'} onChange={() => choose('household')} />
          {' '}Everyone in {unit} (the first answer counts)
        </label>
        <label>
          <input type="radio" name="household" checked={current === 'host'} onChange={() => choose('host')} />
          {' '}Only the resident the visitor asks for
        </label>
      </fieldset>
    </section>
  );
}

const EVENTS: { key: keyof ChannelPreferences; label: string }[] = [
  { key: 'walkinPending', label: 'A walk-in asks for you (SMS and email only if nobody answers in time)' },
  { key: 'visitorArrived', label: 'An invited visitor checks in' },
];
const CHANNELS: { key: keyof Channels; label: string }[] = [
  { key: 'push', label: 'Push' },
  { key: 'sms', label: 'SMS' },
  { key: 'email', label: 'Email' },
];

/** The third channel: a phone for SMS, channels per event, and quiet hours for texts. */
function Reach({ session }: { session: Session }) {
  const prefs = useLoader(() => api<Preferences>('/me/preferences', { token: session.token }));
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [phone, setPhone] = useState<string | null>(null);
  const [quiet, setQuiet] = useState<{ start: string; end: string } | null>(null);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  async function save(body: PreferencesUpdate, what: string) {
    setSaving(true);
    setFailure(null);
    setSaved(null);
    try {
      await api<Preferences>('/me/preferences', { method: 'PUT', token: session.token, body });
      setSaved(what);
    } catch (e) {
      setFailure(errorText(e));
    } finally {
      setSaving(false);
      prefs.reload();
    }
  }
  const current = prefs.data;
  const phoneValue = phone ?? current?.phone ?? '';
  const quietValue = quiet ?? (current?.quietHours ? { start: current.quietHours.start, end: current.quietHours.end } : { start: '', end: '' });
  function toggle(event: keyof ChannelPreferences, channel: keyof Channels, on: boolean) {
    if (!current) return;
    const channels = { ...current.channels, [event]: { ...current.channels[event], [channel]: on } };
    save({ channels }, 'Channels saved.');
  }
  return (
    <section className="card" aria-labelledby="reach-h" data-testid="reach">
      <h2 id="reach-h">How Gatebell reaches you</h2>
      {(prefs.error || failure) && <p className="error" role="alert">{prefs.error ?? failure}</p>}
      {saved && <p className="ok" role="status">{saved}</p>}
      <form
        className="form"
        onSubmit={(e) => { e.preventDefault(); setPhone(null); save({ phone: phoneValue.trim() }, 'Phone saved.'); }}
      >
        <label>
          Phone for SMS (E.164, like +919800000001)
          <input type="tel" value={phoneValue} onChange={(e) => setPhone(e.target.value)} placeholder="+919800000001" />
        </label>
        <button type="submit" disabled={saving || !current}>Save phone</button>
      </form>
      {EVENTS.map(({ key, label }) => (
        <fieldset key={key} disabled={saving || !current}>
          <legend className="muted">{label}</legend>
          {CHANNELS.map((c) => (
            <label key={c.key}>
              <input
                type="checkbox"
                name={`${key}-${c.key}`}
                checked={current?.channels[key][c.key] ?? false}
                onChange={(e) => toggle(key, c.key, e.target.checked)}
              />
              {' '}{c.label}
            </label>
          ))}
        </fieldset>
      ))}
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setQuiet(null);
          const off = !quietValue.start || !quietValue.end;
          save({ quietHours: off ? null : { ...quietValue, timeZone: zone } }, off ? 'Quiet hours off.' : 'Quiet hours saved.');
        }}
      >
        <p className="muted">No SMS between (your time, {current?.quietHours?.timeZone ?? zone})</p>
        <div className="two">
          <label>From <input type="time" value={quietValue.start} onChange={(e) => setQuiet({ ...quietValue, start: e.target.value })} /></label>
          <label>to <input type="time" value={quietValue.end} onChange={(e) => setQuiet({ ...quietValue, end: e.target.value })} /></label>
        </div>
        <button type="submit" disabled={saving || !current}>Save quiet hours</button>
      </form>
    </section>
  );
}
