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

/** An error answer of the API (`{ error: { code, message } }`) or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
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
    throw new ApiError(`Cannot reach the server (${(e as Error).message})`, 0, 'network');
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

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function timeOf(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export const STATUS_LABEL: Record<VisitStatus, string> = {
  INVITED: 'invited',
  CHECKED_IN: 'checked in',
  PENDING: 'waiting',
  APPROVED: 'approved',
  REJECTED: 'rejected',
  EXPIRED: 'expired',
};

/**
 * How a walk-in stands, for the guard: "Approved by Asha Rao", "Expired — SMS sent",
 * "Waiting — SMS and email sent".
 */
export function outcomeOf(v: Visit): string {
  const sent = v.escalation
    ? [v.escalation.sms > 0 ? 'SMS' : null, v.escalation.email > 0 ? 'email' : null].filter(Boolean).join(' and ')
    : '';
  const suffix = sent ? ` — ${sent} sent` : '';
  switch (v.status) {
    case 'APPROVED':
      return `Approved${v.decidedBy ? ` by ${v.decidedBy}` : ''}`;
    case 'REJECTED':
      return `Rejected${v.decidedBy ? ` by ${v.decidedBy}` : ''}`;
    case 'EXPIRED':
      return `Expired${suffix || ' — no one answered'}`;
    case 'PENDING':
      return `Waiting${suffix}`;
    default:
      return STATUS_LABEL[v.status];
  }
}
