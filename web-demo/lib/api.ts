// A small fetch wrapper for the Gatebell API (same origin as this site).

// The wire types are generated from the Rust ones in core::protocol (core/ts/protocol.ts, by
// `cargo xtask types`): a renamed field there fails this build until the pages follow.
export type {
  ChannelPreferences,
  Channels,
  CheckinRequest,
  HouseholdSetting,
  InviteRequest,
  InviteResponse,
  LoginRequest,
  LoginResponse,
  NotificationPage,
  Preferences,
  PreferencesUpdate,
  Resident,
  UnregisterDeviceRequest,
  Visit,
  VisitList,
  VisitStatus,
  WalkinRequest,
  Notification as InboxItem,
} from '@gatebell/protocol';
import type { Visit, VisitStatus } from '@gatebell/protocol';

import type { Key, Translate } from './i18n';

/** An error answer of the API (`{ error: { code, message } }`) or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    /** For a network failure, the browser's reason. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function api<T>(
  path: string,
  { token, method = 'GET', body }: { token?: string | null; method?: string; body?: unknown } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(`Cannot reach the server (${(e as Error).message})`, 0, 'network', (e as Error).message);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(err?.message ?? `HTTP ${res.status}`, res.status, err?.code ?? 'http');
  }
  return json as T;
}

/** What to show for a failure: the server's own message as it sent it, or ours in `t`'s language. */
export function errorText(e: unknown, t: Translate): string {
  if (e instanceof ApiError && e.code === 'network') return t('error.network', { detail: e.detail ?? '' });
  return e instanceof Error ? e.message : String(e);
}

/** A time of day in `locale` (`undefined`: the browser's). */
export function timeOf(ms: number, locale: string | undefined): string {
  return new Date(ms).toLocaleTimeString(locale ?? [], { hour: '2-digit', minute: '2-digit' });
}

/** A visit's status in a word: "waiting", "approved". */
export function statusLabel(status: VisitStatus, t: Translate): string {
  return t(`status.${status}`);
}

/**
 * How a walk-in stands, for the guard: "Approved by Asha Rao", "Expired — SMS sent",
 * "Waiting — SMS and email sent".
 */
export function outcomeOf(v: Visit, t: Translate): string {
  const sms = !!v.escalation && v.escalation.sms > 0;
  const email = !!v.escalation && v.escalation.email > 0;
  const sentKey: Key | null = sms && email ? 'outcome.smsEmailSent' : sms ? 'outcome.smsSent' : email ? 'outcome.emailSent' : null;
  const sent = sentKey ? t(sentKey) : null;
  switch (v.status) {
    case 'APPROVED':
      return v.decidedBy ? t('outcome.approvedBy', { name: v.decidedBy }) : t('outcome.approved');
    case 'REJECTED':
      return v.decidedBy ? t('outcome.rejectedBy', { name: v.decidedBy }) : t('outcome.rejected');
    case 'EXPIRED':
      return sent ? t('outcome.expiredSent', { sent }) : t('outcome.expired');
    case 'PENDING':
      return sent ? t('outcome.waitingSent', { sent }) : t('outcome.waiting');
    default:
      return statusLabel(v.status, t);
  }
}
