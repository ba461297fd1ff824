// The signed-in user, kept in localStorage so every page (and a reload) knows who it is.

import type { User } from '@gatebell/protocol';

export type { Role, User } from '@gatebell/protocol';

export interface Session {
  token: string;
  user: User;
}

const KEY = 'gatebell.session';

export function loadSession(): Session | null {
  if (typeof window === 'undefined') return null;
  try {
    const raw = window.localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s && typeof s.token === 'string' && s.user?.id ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  window.localStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  window.localStorage.removeItem(KEY);
}

/** The screen a user lands on after signing in. */
export function homeFor(user: User): string {
  return user.role === 'resident' ? '/resident' : '/guard';
}
