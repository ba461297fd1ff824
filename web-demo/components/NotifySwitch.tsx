'use client';

import type { Status } from '@gatebell/push';
import { useEffect, useState } from 'react';

import { useT } from '@/components/LanguageProvider';
import { errorText } from '@/lib/api';
import { errorCode, getPushClient, onStatusChange, pushSupported, registerServiceWorker } from '@/lib/gatebell';
import type { Session } from '@/lib/session';

type Permission = NotificationPermission | 'unsupported';

/**
 * iOS and iPadOS give web push only to a site added to the Home Screen and opened from there
 * (standalone); in a Safari tab there is no PushManager at all.
 */
function iosOutsideHomeScreen(): boolean {
  const ios = /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  const standalone = (navigator as Navigator & { standalone?: boolean }).standalone === true
    || window.matchMedia('(display-mode: standalone)').matches;
  return ios && !standalone;
}

function currentPermission(): Permission {
  return pushSupported() ? Notification.permission : 'unsupported';
}

/**
 * "Notify me when a visitor arrives": runs the package's enableNotifications() and shows,
 * without embellishment, what the browser and the server say.
 */
export default function NotifySwitch({ session }: { session: Session }) {
  const { t, locale } = useT();
  const [permission, setPermission] = useState<Permission | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  useEffect(() => {
    setPermission(currentPermission());
    if (!pushSupported()) return;
    registerServiceWorker().catch((e) => setMessage(t('notify.serviceWorkerError', { message: errorText(e, t) })));
    let stop = () => {};
    getPushClient()
      .then((client) => {
        setStatus(client.status());
        stop = onStatusChange((s) => {
          setStatus(s);
          setPermission(currentPermission());
        });
      })
      .catch((e) => setMessage(t('notify.pushClientError', { message: errorText(e, t) })));
    return () => stop();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- once per mount, in the language of that moment

  const registered = !!status?.registered && status.userId === session.user.id;
  const [needsHomeScreen, setNeedsHomeScreen] = useState(false);
  useEffect(() => setNeedsHomeScreen(iosOutsideHomeScreen()), []);
  const on = registered && permission === 'granted';

  async function enable() {
    // Asked before any await: Safari (and Firefox) grant the prompt only inside the click's
    // own task. The package asks again later, which then resolves at once.
    const asked = pushSupported() ? Notification.requestPermission() : null;
    setBusy(true);
    setMessage(null);
    try {
      if (asked && (await asked) !== 'granted') {
        throw Object.assign(new Error('permission not granted'), { code: 'permission_denied' });
      }
      const registration = await registerServiceWorker();
      if (!registration) throw Object.assign(new Error('This browser has no service workers'), { code: 'unsupported' });
      const client = await getPushClient();
      setStatus(await client.enableNotifications({ registration }));
    } catch (e) {
      const code = errorCode(e);
      if (code === 'permission_denied') setMessage(t('notify.blocked'));
      else if (code === 'unsupported') setMessage(t('notify.unsupported'));
      else setMessage(errorText(e, t));
    } finally {
      setPermission(currentPermission());
      setBusy(false);
    }
  }

  async function disable() {
    setBusy(true);
    setMessage(null);
    try {
      const client = await getPushClient();
      const registration = await registerServiceWorker();
      // Unregisters on the server, unsubscribes here, and remembers "off" across reloads.
      setStatus(await client.disableNotifications(registration ? { registration } : undefined));
      setMessage(t('notify.off'));
    } catch (e) {
      setMessage(errorText(e, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="notify-h">
      <div className="switch-row">
        <div>
          <h2 id="notify-h">{t('notify.title')}</h2>
          <p className="muted small">{t('notify.help')}</p>
        </div>
        <label className="switch">
          <input
            type="checkbox"
            role="switch"
            aria-label={t('notify.title')}
            checked={on}
            disabled={busy || permission === 'unsupported' || permission === null}
            onChange={(e) => (e.target.checked ? enable() : disable())}
          />
          <span className="slider" aria-hidden="true" />
        </label>
      </div>
      <dl className="facts" data-testid="push-state">
        <dt>{t('notify.permission')}</dt>
        <dd data-testid="permission" className={`perm perm-${permission ?? 'unknown'}`}>
          {permission ? t(`notify.permission.${permission}`) : '…'}
        </dd>
        <dt>{t('notify.thisBrowser')}</dt>
        <dd data-testid="registration">
          {busy
            ? t('notify.working')
            : registered
              ? status?.lastRegisteredAtMs
                ? t('notify.registeredAt', { time: new Date(status.lastRegisteredAtMs).toLocaleTimeString(locale) })
                : t('notify.registered')
              : t('notify.notRegistered')}
        </dd>
        {status?.lastError && (
          <>
            <dt>{t('notify.lastError')}</dt>
            <dd className="error">
              {status.lastError.willRetry ? t('notify.willRetry', { message: status.lastError.message }) : status.lastError.message}
            </dd>
          </>
        )}
      </dl>
      {needsHomeScreen && (
        <p className="notice" data-testid="ios-install">
          {t('notify.iosInstall')}
        </p>
      )}
      {message && <p className="notice" role="status">{message}</p>}
    </section>
  );
}
