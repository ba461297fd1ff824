'use client';

import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';

import { useT } from '@/components/LanguageProvider';

import { api, errorText } from './api';
import { getPushClient, onSessionEnded } from './gatebell';
import { clearSession, loadSession, type Role, type Session } from './session';

/**
 * The stored session (read after mount, so the static HTML never depends on it). With
 * `roles`, anyone else is sent to the sign-in page. Also keeps the PushClient's session in
 * step with the page's, and signs out when the server refuses the session.
 */
export function useSession(roles?: Role[]): Session | null {
  const router = useRouter();
  const [session, setSession] = useState<Session | null>(null);
  const rolesKey = roles?.join(',');
  useEffect(() => {
    const s = loadSession();
    if (!s || (rolesKey && !rolesKey.split(',').includes(s.user.role))) {
      router.replace(s ? '/' : `/?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    setSession(s);
    // The package keeps its own copy of the session for the service worker; a second tab or
    // a stale state may disagree with localStorage.
    getPushClient()
      .then((client) => {
        const st = client.status();
        if (!st.signedIn || st.userId !== s.user.id) return client.signIn(s.token, s.user.id);
      })
      .catch((e) => console.warn('gatebell push client:', e));
    return onSessionEnded(() => {
      clearSession();
      router.replace('/');
    });
  }, [router, rolesKey]);
  return session;
}

/** Signs out: the package unregisters this device first, then the session is revoked. */
export async function signOut(session: Session): Promise<void> {
  try {
    const client = await getPushClient();
    await client.signOut();
  } catch (e) {
    console.warn('gatebell push client sign-out:', e);
  }
  try {
    await api('/auth/logout', { method: 'POST', token: session.token });
  } catch {
    /* the session may be gone already */
  }
  clearSession();
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * Listens to the server's event stream (`inbox`, `visit`); `refresh` runs on every event and
 * whenever the stream (re)connects, so nothing missed while offline stays stale.
 */
export function useLiveEvents(
  token: string | null | undefined,
  handlers: { inbox?: () => void; visit?: (visitId: string) => void; ready?: () => void },
): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    if (!token) return;
    const source = new EventSource(`/api/v1/notifications/stream?access_token=${encodeURIComponent(token)}`);
    source.addEventListener('ready', () => {
      setState('live');
      ref.current.ready?.();
    });
    source.addEventListener('inbox', () => ref.current.inbox?.());
    source.addEventListener('visit', (e) => {
      let id = '';
      try {
        id = JSON.parse((e as MessageEvent).data).visitId ?? '';
      } catch {
        /* ignore */
      }
      ref.current.visit?.(id);
    });
    source.onerror = () => setState('reconnecting');
    return () => source.close();
  }, [token]);
  return state;
}

/** Runs `load` now and returns its latest result; `reload` runs it again. */
export function useLoader<T>(load: (() => Promise<T>) | null): {
  data: T | null;
  error: string | null;
  reload: () => void;
} {
  const { t } = useT();
  const [data, setData] = useState<T | null>(null);
  // The failure itself, put in words at each render (so a language switch re-words it).
  const [error, setError] = useState<{ cause: unknown } | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const reload = useCallback(() => {
    const f = loadRef.current;
    if (!f) return;
    const mine = ++seq.current;
    f().then(
      (d) => {
        if (mine === seq.current) {
          setData(d);
          setError(null);
        }
      },
      (e) => {
        if (mine === seq.current) setError({ cause: e });
      },
    );
  }, []);
  const enabled = load !== null;
  useEffect(() => {
    if (enabled) reload();
  }, [enabled, reload]);
  return { data, error: error && errorText(error.cause, t), reload };
}
