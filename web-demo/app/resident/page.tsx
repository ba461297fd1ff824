'use client';

import { useCallback, useState } from 'react';

import AppHeader from '@/components/AppHeader';
import { useT } from '@/components/LanguageProvider';
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
import type { PlainKey } from '@/lib/i18n';
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
  const { t, locale } = useT();
  const [busy, setBusy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  async function decide(v: Visit, action: 'approve' | 'reject') {
    setBusy(v.id);
    setFailure(null);
    try {
      await api(`/visits/${v.id}/${action}`, { method: 'POST', token: session.token });
    } catch (e) {
      setFailure(errorText(e, t));
    } finally {
      setBusy(null);
      onChange();
    }
  }
  return (
    <section className="card" aria-labelledby="pending-h" data-testid="pending">
      <h2 id="pending-h">{t('resident.atGate')}</h2>
      {error && <p className="error">{error}</p>}
      {failure && <p className="error" role="alert">{failure}</p>}
      {visits === null ? (
        <p className="muted">{t('common.loading')}</p>
      ) : visits.length === 0 ? (
        <p className="muted">{t('resident.nobodyWaiting')}</p>
      ) : (
        <ul className="list">
          {visits.map((v) => (
            <li key={v.id} className="row pending-row">
              <div>
                <strong>{v.visitorName}</strong>
                {v.purpose && <span className="muted"> · {v.purpose}</span>}
                <div className="muted small">{t('resident.atGateSince', { time: timeOf(v.createdAt, locale) })}</div>
              </div>
              <div className="actions">
                <button className="approve" disabled={busy === v.id} onClick={() => decide(v, 'approve')}>{t('resident.approve')}</button>
                <button className="reject" disabled={busy === v.id} onClick={() => decide(v, 'reject')}>{t('resident.reject')}</button>
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
  const { t, plural, locale } = useT();
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
          {t('resident.notifications')}{' '}
          {!!data?.unreadCount && (
            <span className="badge" data-testid="unread" title={plural('resident.unread', data.unreadCount)}>{data.unreadCount}</span>
          )}
        </h2>
        {!!data?.unreadCount && (
          <button className="link-button" onClick={markAll}>{t('resident.markAllRead')}</button>
        )}
      </div>
      {error && <p className="error">{error}</p>}
      {data === null ? (
        <p className="muted">{t('common.loading')}</p>
      ) : data.items.length === 0 ? (
        <p className="muted">{t('resident.noNotifications')}</p>
      ) : (
        <ul className="list">
          {data.items.map((n) => (
            <li key={n.id} className={`row note ${n.read ? 'read' : 'unread'}`} data-read={n.read}>
              <div>
                <strong>{n.title}</strong>
                <div>{n.body}</div>
                <div className="muted small">
                  {timeOf(n.createdAt, locale)}
                  {n.visitId && (
                    <>
                      {' · '}
                      <a href={`/visits/${n.visitId}`} onClick={() => markRead(n)}>{t('resident.openVisit')}</a>
                    </>
                  )}
                </div>
              </div>
              {!n.read && (
                <button className="link-button small" onClick={() => markRead(n)}>{t('resident.markRead')}</button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Invite({ session }: { session: Session }) {
  const { t, rich, locale } = useT();
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
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="invite-h">
      <h2 id="invite-h">{t('resident.inviteTitle')}</h2>
      <form className="form" onSubmit={invite}>
        <label>
          {t('common.visitorName')}
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <div className="two">
          <label>
            {t('common.phone')}
            <input type="tel" placeholder={t('common.optional')} value={phone} onChange={(e) => setPhone(e.target.value)} />
          </label>
          <label>
            {t('common.purpose')}
            <input placeholder={t('common.optional')} value={purpose} onChange={(e) => setPurpose(e.target.value)} />
          </label>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{busy ? t('resident.inviting') : t('resident.invite')}</button>
      </form>
      {made && (
        <div className="invite-result" data-testid="invite-result">
          <div>
            <p>
              {rich('resident.giveCode', { name: <strong>{made.visit.visitorName}</strong> })}
            </p>
            <p className="otp" data-testid="otp">{made.otp}</p>
            {made.visit.validUntil && (
              <p className="muted small">{t('resident.validUntil', { time: new Date(made.visit.validUntil).toLocaleString(locale) })}</p>
            )}
          </div>
          <QrCode value={made.qr} label={t('resident.qrFor', { name: made.visit.visitorName })} />
        </div>
      )}
    </section>
  );
}

/** Whom a walk-in for this flat asks: everyone living there (first answer wins) or the host. */
function Household({ session }: { session: Session }) {
  const { t } = useT();
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
      setFailure(errorText(e, t));
    } finally {
      setSaving(false);
      prefs.reload();
    }
  }
  const current = prefs.data?.household;
  const unit = session.user.unit ?? t('resident.yourFlat');
  return (
    <section className="card" aria-labelledby="household-h" data-testid="household">
      <h2 id="household-h">{t('resident.householdTitle')}</h2>
      {(prefs.error || failure) && <p className="error" role="alert">{prefs.error ?? failure}</p>}
      <fieldset disabled={saving || !current}>
        <legend className="muted">{t('resident.whoIsAsked')}</legend>
        <label>
          <input type="radio" name="household" checked={current === 'household'} onChange={() => choose('household')} />
          {' '}{t('resident.everyone', { unit })}
        </label>
        <label>
          <input type="radio" name="household" checked={current === 'host'} onChange={() => choose('host')} />
          {' '}{t('resident.onlyHost')}
        </label>
      </fieldset>
    </section>
  );
}

const EVENTS: { key: keyof ChannelPreferences; label: PlainKey }[] = [
  { key: 'walkinPending', label: 'resident.eventWalkin' },
  { key: 'visitorArrived', label: 'resident.eventArrived' },
];
const CHANNELS: { key: keyof Channels; label: PlainKey }[] = [
  { key: 'push', label: 'resident.channelPush' },
  { key: 'sms', label: 'resident.channelSms' },
  { key: 'email', label: 'resident.channelEmail' },
];

/** The third channel: a phone for SMS, channels per event, and quiet hours for texts. */
function Reach({ session }: { session: Session }) {
  const { t } = useT();
  const prefs = useLoader(() => api<Preferences>('/me/preferences', { token: session.token }));
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState<PlainKey | null>(null);
  const [saving, setSaving] = useState(false);
  const [phone, setPhone] = useState<string | null>(null);
  const [quiet, setQuiet] = useState<{ start: string; end: string } | null>(null);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  async function save(body: PreferencesUpdate, what: PlainKey) {
    setSaving(true);
    setFailure(null);
    setSaved(null);
    try {
      await api<Preferences>('/me/preferences', { method: 'PUT', token: session.token, body });
      setSaved(what);
    } catch (e) {
      setFailure(errorText(e, t));
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
    save({ channels }, 'resident.channelsSaved');
  }
  return (
    <section className="card" aria-labelledby="reach-h" data-testid="reach">
      <h2 id="reach-h">{t('resident.reachTitle')}</h2>
      {(prefs.error || failure) && <p className="error" role="alert">{prefs.error ?? failure}</p>}
      {saved && <p className="ok" role="status">{t(saved)}</p>}
      <form
        className="form"
        onSubmit={(e) => { e.preventDefault(); setPhone(null); save({ phone: phoneValue.trim() }, 'resident.phoneSaved'); }}
      >
        <label>
          {t('resident.smsPhone')}
          <input type="tel" value={phoneValue} onChange={(e) => setPhone(e.target.value)} placeholder="+919800000001" />
        </label>
        <button type="submit" disabled={saving || !current}>{t('resident.savePhone')}</button>
      </form>
      {EVENTS.map(({ key, label }) => (
        <fieldset key={key} disabled={saving || !current}>
          <legend className="muted">{t(label)}</legend>
          {CHANNELS.map((c) => (
            <label key={c.key}>
              <input
                type="checkbox"
                name={`${key}-${c.key}`}
                checked={current?.channels[key][c.key] ?? false}
                onChange={(e) => toggle(key, c.key, e.target.checked)}
              />
              {' '}{t(c.label)}
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
          save({ quietHours: off ? null : { ...quietValue, timeZone: zone } }, off ? 'resident.quietOff' : 'resident.quietSaved');
        }}
      >
        <p className="muted">{t('resident.quietHours', { zone: current?.quietHours?.timeZone ?? zone })}</p>
        <div className="two">
          <label>{t('resident.quietFrom')} <input type="time" value={quietValue.start} onChange={(e) => setQuiet({ ...quietValue, start: e.target.value })} /></label>
          <label>{t('resident.quietTo')} <input type="time" value={quietValue.end} onChange={(e) => setQuiet({ ...quietValue, end: e.target.value })} /></label>
        </div>
        <button type="submit" disabled={saving || !current}>{t('resident.saveQuiet')}</button>
      </form>
    </section>
  );
}
