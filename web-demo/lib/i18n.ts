// The demo's words in English and Hindi. Every key of `en` must be in `hi` (and no other key):
// `hi` is typed `Record<Key, string>`, so a missing translation fails `tsc`.
//
// Placeholders are named (`{name}`) and filled by `translate`; a count that is shown uses a
// pair of keys `<base>.one` / `<base>.other`, chosen by `plural` with the language's plural
// rules. Names, units, phones, OTPs, what the user typed and the server's messages are passed
// in as values and never translated.

/** The languages of the demo. */
export const LANGUAGES = ['en', 'hi'] as const;
export type Lang = (typeof LANGUAGES)[number];

/** Each language's name in itself, for the switch. */
export const LANGUAGE_NAMES: Record<Lang, string> = { en: 'English', hi: 'हिन्दी' };

/** The locale dates and times are written in (`undefined`: the browser's). */
export const LOCALES: Record<Lang, string | undefined> = { en: undefined, hi: 'hi-IN' };

const en = {
  'header.language': 'Language',
  'header.liveTitle': 'Live updates from the server',
  'header.live': 'live',
  'header.connecting': 'connecting…',
  'header.reconnecting': 'reconnecting…',
  'header.signOut': 'Sign out',
  'header.signingOut': 'Signing out…',

  'role.guard': 'guard',
  'role.resident': 'resident',
  'role.admin': 'admin',

  'common.loading': 'Loading…',
  'common.visitorName': 'Visitor’s name',
  'common.purpose': 'Purpose',
  'common.phone': 'Phone',
  'common.optional': 'optional',

  'signIn.title': 'Sign in',
  'signIn.email': 'Email',
  'signIn.password': 'Password',
  'signIn.submit': 'Sign in',
  'signIn.busy': 'Signing in…',
  'signIn.demoAccounts': 'Demo accounts',
  'signIn.demoHelp':
    'Password for all: {password}. Open the guard and a resident in two windows (one of them private) to see a walk-in travel from the gate to the flat.',
  'signIn.accountRole': '{name} — {role}',
  'signIn.accountRoleUnit': '{name} — {role}, {unit}',

  'status.INVITED': 'invited',
  'status.CHECKED_IN': 'checked in',
  'status.PENDING': 'waiting',
  'status.APPROVED': 'approved',
  'status.REJECTED': 'rejected',
  'status.EXPIRED': 'expired',

  'outcome.approved': 'Approved',
  'outcome.approvedBy': 'Approved by {name}',
  'outcome.rejected': 'Rejected',
  'outcome.rejectedBy': 'Rejected by {name}',
  'outcome.expired': 'Expired — no one answered',
  'outcome.expiredSent': 'Expired — {sent}',
  'outcome.waiting': 'Waiting',
  'outcome.waitingSent': 'Waiting — {sent}',
  'outcome.smsSent': 'SMS sent',
  'outcome.emailSent': 'email sent',
  'outcome.smsEmailSent': 'SMS and email sent',

  'error.network': 'Cannot reach the server ({detail})',
  'error.http': 'HTTP {status}',

  'guard.gate': 'The gate',
  'guard.readOnly': 'Only guards register visitors; this is a read-only view.',
  'guard.walkinsTitle': 'Today’s walk-ins',
  'guard.noWalkins': 'No walk-ins in the last 24 hours.',
  'guard.walkinCount.one': '{count} walk-in',
  'guard.walkinCount.other': '{count} walk-ins',
  'guard.forHost': 'for {host}',
  'guard.registerTitle': 'Register a walk-in',
  'guard.residentSearch': 'Resident (name or unit)',
  'guard.residents': 'Residents',
  'guard.noMatch': 'No resident matches.',
  'guard.pickedFor': 'For {name}',
  'guard.change': 'change',
  'guard.purposePlaceholder': 'delivery, guest…',
  'guard.pickResident': 'Pick the resident the visitor has come to see.',
  'guard.asked': '{host} has been asked about {visitor}.',
  'guard.notify': 'Notify resident',
  'guard.notifying': 'Notifying…',
  'guard.cannotRecord': 'Gatebell cannot record this walk-in right now. Call the resident to ask, then try again in a moment.',
  'guard.checkinTitle': 'Check in an invited visitor',
  'guard.otp': 'OTP',
  'guard.otpPlaceholder': '6 digits',
  'guard.checkin': 'Check in',
  'guard.checking': 'Checking…',
  'guard.checkedIn': '{visitor} checked in for {host}; they have been told.',

  'resident.atGate': 'At the gate now',
  'resident.nobodyWaiting': 'Nobody is waiting for you.',
  'resident.atGateSince': 'at the gate since {time}',
  'resident.approve': 'Approve',
  'resident.reject': 'Reject',
  'resident.notifications': 'Notifications',
  'resident.unread.one': '{count} unread notification',
  'resident.unread.other': '{count} unread notifications',
  'resident.markAllRead': 'Mark all read',
  'resident.noNotifications': 'No notifications yet.',
  'resident.openVisit': 'open visit',
  'resident.markRead': 'Mark read',
  'resident.inviteTitle': 'Invite a visitor',
  'resident.invite': 'Invite',
  'resident.inviting': 'Inviting…',
  'resident.giveCode': 'Give {name} this code for the gate:',
  'resident.validUntil': 'valid until {time}',
  'resident.qrFor': 'QR code for {name}',
  'resident.householdTitle': 'When a visitor comes for you',
  'resident.whoIsAsked': 'Who is asked at the gate',
  'resident.yourFlat': 'your flat',
  'resident.everyone': 'Everyone in {unit} (the first answer counts)',
  'resident.onlyHost': 'Only the resident the visitor asks for',
  'resident.reachTitle': 'How Gatebell reaches you',
  'resident.eventWalkin': 'A walk-in asks for you (SMS and email only if nobody answers in time)',
  'resident.eventArrived': 'An invited visitor checks in',
  'resident.channelPush': 'Push',
  'resident.channelSms': 'SMS',
  'resident.channelEmail': 'Email',
  'resident.smsPhone': 'Phone for SMS (E.164, like +919800000001)',
  'resident.savePhone': 'Save phone',
  'resident.phoneSaved': 'Phone saved.',
  'resident.channelsSaved': 'Channels saved.',
  'resident.quietOff': 'Quiet hours off.',
  'resident.quietSaved': 'Quiet hours saved.',
  'resident.quietHours': 'No SMS between (your time, {zone})',
  'resident.quietFrom': 'From',
  'resident.quietTo': 'to',
  'resident.saveQuiet': 'Save quiet hours',

  'notify.title': 'Notify me when a visitor arrives',
  'notify.help': 'Push notifications to this browser, even when Gatebell is closed.',
  'notify.permission': 'Permission',
  'notify.permission.granted': 'granted',
  'notify.permission.denied': 'denied',
  'notify.permission.default': 'not asked yet',
  'notify.permission.unsupported': 'unsupported',
  'notify.thisBrowser': 'This browser',
  'notify.working': 'working…',
  'notify.registered': 'registered',
  'notify.registeredAt': 'registered at {time}',
  'notify.notRegistered': 'not registered',
  'notify.lastError': 'Last error',
  'notify.willRetry': '{message} (will retry)',
  'notify.serviceWorkerError': 'Service worker: {message}',
  'notify.pushClientError': 'Push client: {message}',
  'notify.blocked': 'Notifications are blocked for this site: allow them in the browser’s site settings.',
  'notify.unsupported': 'This browser cannot receive push notifications.',
  'notify.off': 'This browser no longer gets visitor notifications.',
  'notify.iosInstall':
    'On iPhone and iPad, notifications need Gatebell on the Home Screen: tap Share, then “Add to Home Screen”, and turn this on from there.',

  'visit.back': '← Back',
  'visit.noVisit': 'This address names no visit.',
  'visit.walkinFor': 'Walk-in for',
  'visit.invitedBy': 'Invited by',
  'visit.arrived': 'Arrived',
  'visit.invited': 'Invited',
  'visit.checkedIn': 'Checked in',
  'visit.decided': 'Decided',
  'visit.decidedAt': '{who} at {time}',
  'visit.letIn': 'Let {name} in?',
  'visit.turnAway': 'Turn {name} away?',
  'visit.yesApprove': 'Yes, approve',
  'visit.yesReject': 'Yes, reject',
  'visit.notNow': 'Not now',
  'visit.decidedAlready': 'This visit was decided already.',

  'notFound.title': 'Not found',
  'notFound.text': 'There is nothing here.',
  'notFound.back': 'Back to Gatebell',
} as const satisfies Record<string, string>;

/** One string of the dictionary. */
export type Key = keyof typeof en;

const hi: Record<Key, string> = {
  'header.language': 'भाषा',
  'header.liveTitle': 'सर्वर से सीधे अपडेट',
  'header.live': 'लाइव',
  'header.connecting': 'जुड़ रहा है…',
  'header.reconnecting': 'फिर से जुड़ रहा है…',
  'header.signOut': 'साइन आउट',
  'header.signingOut': 'साइन आउट हो रहा है…',

  'role.guard': 'गार्ड',
  'role.resident': 'निवासी',
  'role.admin': 'एडमिन',

  'common.loading': 'लोड हो रहा है…',
  'common.visitorName': 'आगंतुक का नाम',
  'common.purpose': 'काम',
  'common.phone': 'फ़ोन',
  'common.optional': 'ज़रूरी नहीं',

  'signIn.title': 'साइन इन',
  'signIn.email': 'ईमेल',
  'signIn.password': 'पासवर्ड',
  'signIn.submit': 'साइन इन करें',
  'signIn.busy': 'साइन इन हो रहा है…',
  'signIn.demoAccounts': 'डेमो खाते',
  'signIn.demoHelp':
    'सभी का पासवर्ड: {password}। गार्ड और एक निवासी को दो अलग विंडो में खोलें (एक प्राइवेट विंडो में), और देखें कि आगंतुक की खबर गेट से फ़्लैट तक कैसे पहुँचती है।',
  'signIn.accountRole': '{name} — {role}',
  'signIn.accountRoleUnit': '{name} — {role}, {unit}',

  'status.INVITED': 'आमंत्रित',
  'status.CHECKED_IN': 'अंदर आ गए',
  'status.PENDING': 'इंतज़ार में',
  'status.APPROVED': 'स्वीकार',
  'status.REJECTED': 'अस्वीकार',
  'status.EXPIRED': 'समय खत्म',

  'outcome.approved': 'स्वीकार किया गया',
  'outcome.approvedBy': '{name} ने स्वीकार किया',
  'outcome.rejected': 'अस्वीकार किया गया',
  'outcome.rejectedBy': '{name} ने अस्वीकार किया',
  'outcome.expired': 'समय खत्म — किसी ने जवाब नहीं दिया',
  'outcome.expiredSent': 'समय खत्म — {sent}',
  'outcome.waiting': 'इंतज़ार में',
  'outcome.waitingSent': 'इंतज़ार में — {sent}',
  'outcome.smsSent': 'SMS भेजा गया',
  'outcome.emailSent': 'ईमेल भेजा गया',
  'outcome.smsEmailSent': 'SMS और ईमेल भेजे गए',

  'error.network': 'सर्वर से संपर्क नहीं हो पा रहा ({detail})',
  'error.http': 'HTTP {status}',

  'guard.gate': 'गेट',
  'guard.readOnly': 'आगंतुक केवल गार्ड दर्ज करते हैं; यहाँ आप सिर्फ़ देख सकते हैं।',
  'guard.walkinsTitle': 'आज के आगंतुक',
  'guard.noWalkins': 'पिछले 24 घंटों में कोई आगंतुक नहीं आया।',
  'guard.walkinCount.one': '{count} आगंतुक',
  'guard.walkinCount.other': '{count} आगंतुक',
  'guard.forHost': '{host} के लिए',
  'guard.registerTitle': 'गेट पर आगंतुक',
  'guard.residentSearch': 'निवासी (नाम या फ़्लैट)',
  'guard.residents': 'निवासी सूची',
  'guard.noMatch': 'कोई निवासी नहीं मिला।',
  'guard.pickedFor': '{name} के लिए',
  'guard.change': 'बदलें',
  'guard.purposePlaceholder': 'डिलीवरी, मेहमान…',
  'guard.pickResident': 'आगंतुक जिनसे मिलने आया है, वह निवासी चुनें।',
  'guard.asked': '{host} से {visitor} के बारे में पूछ लिया गया है।',
  'guard.notify': 'निवासी को सूचना भेजें',
  'guard.notifying': 'सूचना जा रही है…',
  'guard.cannotRecord': 'Gatebell अभी यह आगंतुक दर्ज नहीं कर पा रहा। निवासी को फ़ोन करके पूछें, फिर थोड़ी देर में दोबारा कोशिश करें।',
  'guard.checkinTitle': 'आमंत्रित आगंतुक को अंदर लें',
  'guard.otp': 'OTP',
  'guard.otpPlaceholder': '6 अंक',
  'guard.checkin': 'अंदर लें',
  'guard.checking': 'जाँच हो रही है…',
  'guard.checkedIn': '{visitor} {host} के लिए अंदर आ गए; उन्हें बता दिया गया है।',

  'resident.atGate': 'अभी गेट पर',
  'resident.nobodyWaiting': 'आपके लिए कोई इंतज़ार नहीं कर रहा।',
  'resident.atGateSince': '{time} से गेट पर',
  'resident.approve': 'स्वीकार करें',
  'resident.reject': 'अस्वीकार करें',
  'resident.notifications': 'सूचनाएँ',
  'resident.unread.one': '{count} नई सूचना',
  'resident.unread.other': '{count} नई सूचनाएँ',
  'resident.markAllRead': 'सब पढ़ ली गईं',
  'resident.noNotifications': 'अभी कोई सूचना नहीं।',
  'resident.openVisit': 'विज़िट खोलें',
  'resident.markRead': 'पढ़ ली',
  'resident.inviteTitle': 'आगंतुक को बुलाएँ',
  'resident.invite': 'बुलाएँ',
  'resident.inviting': 'बुलाया जा रहा है…',
  'resident.giveCode': '{name} को गेट के लिए यह कोड दें:',
  'resident.validUntil': '{time} तक मान्य',
  'resident.qrFor': '{name} का QR कोड',
  'resident.householdTitle': 'जब कोई आपसे मिलने आए',
  'resident.whoIsAsked': 'गेट से किससे पूछा जाए',
  'resident.yourFlat': 'आपका फ़्लैट',
  'resident.everyone': '{unit} में सभी से (जो पहले जवाब दे)',
  'resident.onlyHost': 'सिर्फ़ उस निवासी से जिसका नाम आगंतुक ले',
  'resident.reachTitle': 'Gatebell आप तक कैसे पहुँचे',
  'resident.eventWalkin': 'कोई आगंतुक आपसे मिलने आए (SMS और ईमेल तभी, जब समय पर कोई जवाब न दे)',
  'resident.eventArrived': 'आमंत्रित आगंतुक अंदर आए',
  'resident.channelPush': 'पुश',
  'resident.channelSms': 'SMS',
  'resident.channelEmail': 'ईमेल',
  'resident.smsPhone': 'SMS के लिए फ़ोन (E.164, जैसे +919800000001)',
  'resident.savePhone': 'फ़ोन सेव करें',
  'resident.phoneSaved': 'फ़ोन सेव हो गया।',
  'resident.channelsSaved': 'चैनल सेव हो गए।',
  'resident.quietOff': 'शांत समय बंद।',
  'resident.quietSaved': 'शांत समय सेव हो गया।',
  'resident.quietHours': 'इस समय के बीच SMS नहीं (आपका समय, {zone})',
  'resident.quietFrom': 'कब से',
  'resident.quietTo': 'कब तक',
  'resident.saveQuiet': 'शांत समय सेव करें',

  'notify.title': 'आगंतुक आने पर मुझे सूचना दें',
  'notify.help': 'इस ब्राउज़र पर पुश सूचना, Gatebell बंद होने पर भी।',
  'notify.permission': 'अनुमति',
  'notify.permission.granted': 'मिली हुई है',
  'notify.permission.denied': 'मना है',
  'notify.permission.default': 'अभी पूछा नहीं गया',
  'notify.permission.unsupported': 'समर्थित नहीं',
  'notify.thisBrowser': 'यह ब्राउज़र',
  'notify.working': 'हो रहा है…',
  'notify.registered': 'दर्ज है',
  'notify.registeredAt': '{time} पर दर्ज हुआ',
  'notify.notRegistered': 'दर्ज नहीं है',
  'notify.lastError': 'पिछली गड़बड़ी',
  'notify.willRetry': '{message} (फिर कोशिश होगी)',
  'notify.serviceWorkerError': 'सर्विस वर्कर: {message}',
  'notify.pushClientError': 'पुश क्लाइंट: {message}',
  'notify.blocked': 'इस साइट के लिए सूचनाएँ बंद हैं: ब्राउज़र की साइट सेटिंग में इन्हें चालू करें।',
  'notify.unsupported': 'यह ब्राउज़र पुश सूचनाएँ नहीं ले सकता।',
  'notify.off': 'इस ब्राउज़र पर अब आगंतुक की सूचनाएँ नहीं आएँगी।',
  'notify.iosInstall':
    'iPhone और iPad पर सूचनाओं के लिए Gatebell होम स्क्रीन पर होना चाहिए: शेयर पर टैप करें, फिर “होम स्क्रीन में जोड़ें”, और वहाँ से इसे चालू करें।',

  'visit.back': '← वापस',
  'visit.noVisit': 'इस पते पर कोई विज़िट नहीं है।',
  'visit.walkinFor': 'किससे मिलने आए',
  'visit.invitedBy': 'किसने बुलाया',
  'visit.arrived': 'आने का समय',
  'visit.invited': 'बुलाने का समय',
  'visit.checkedIn': 'अंदर आने का समय',
  'visit.decided': 'फ़ैसला',
  'visit.decidedAt': '{who}, {time} पर',
  'visit.letIn': '{name} को अंदर आने दें?',
  'visit.turnAway': '{name} को वापस भेजें?',
  'visit.yesApprove': 'हाँ, स्वीकार करें',
  'visit.yesReject': 'हाँ, अस्वीकार करें',
  'visit.notNow': 'अभी नहीं',
  'visit.decidedAlready': 'इस विज़िट पर फ़ैसला हो चुका है।',

  'notFound.title': 'पेज नहीं मिला',
  'notFound.text': 'यहाँ कुछ नहीं है।',
  'notFound.back': 'Gatebell पर वापस जाएँ',
};

const DICTIONARIES: Record<Lang, Record<Key, string>> = { en, hi };

/** The placeholders of a template: `Placeholders<'{a} and {b}'>` is `'a' | 'b'`. */
type Placeholders<S extends string> = S extends `${string}{${infer V}}${infer Rest}` ? V | Placeholders<Rest> : never;

/** The values a key needs, by name (checked against the English template). */
export type Vars<K extends Key, V = string | number> = { [P in Placeholders<(typeof en)[K]>]: V };

/** `[vars]` when the key has placeholders, `[]` when it has none. */
export type VarsArg<K extends Key, V = string | number> = [Placeholders<(typeof en)[K]>] extends [never] ? [] : [vars: Vars<K, V>];

/** `t(key, vars)`: the current language's text for `key`. */
export type Translate = <K extends Key>(key: K, ...vars: VarsArg<K>) => string;

/** A key whose text has no placeholders (a label, a heading). */
export type PlainKey = { [K in Key]: VarsArg<K> extends [] ? K : never }[Key];

type PluralBase<K> = K extends `${infer B}.one` ? (`${B}.other` extends Key ? B : never) : never;
/** The keys counted with `.one` / `.other` forms, without the suffix. */
export type PluralKey = PluralBase<Key>;

/** The parts of `lang`'s text for `key`: literal text and the names of the placeholders between. */
export function parts(lang: Lang, key: Key): { text: string; name?: string }[] {
  const template = DICTIONARIES[lang][key];
  const out: { text: string; name?: string }[] = [];
  const re = /\{(\w+)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) out.push({ text: template.slice(last, m.index) });
    out.push({ text: m[0], name: m[1] });
    last = m.index + m[0].length;
  }
  if (last < template.length) out.push({ text: template.slice(last) });
  return out;
}

/** `lang`'s text for `key`, with its placeholders filled from `vars` (values are not translated). */
export function translate(lang: Lang, key: Key, vars?: Record<string, string | number>): string {
  return parts(lang, key)
    .map((p) => (p.name !== undefined && vars && p.name in vars ? String(vars[p.name]) : p.text))
    .join('');
}

/** The key of the form `count` takes in `lang` (`.one` or `.other`). */
export function pluralKey(lang: Lang, base: PluralKey, count: number): Key {
  return new Intl.PluralRules(lang).select(count) === 'one' ? `${base}.one` : `${base}.other`;
}

/** Where the chosen language is kept across reloads. */
export const LANGUAGE_STORAGE_KEY = 'gatebell.language';

/** A stored value that names one of our languages, or null. */
export function asLang(value: unknown): Lang | null {
  return LANGUAGES.includes(value as Lang) ? (value as Lang) : null;
}

/** The language to start in: the stored choice, else Hindi for a browser that puts Hindi first, else English. */
export function initialLanguage(): Lang {
  try {
    const stored = asLang(window.localStorage.getItem(LANGUAGE_STORAGE_KEY));
    if (stored) return stored;
  } catch {
    /* storage may be unavailable (private modes); fall through to the browser's language */
  }
  const first = (navigator.languages?.[0] ?? navigator.language ?? '').toLowerCase();
  return first.split('-')[0] === 'hi' ? 'hi' : 'en';
}
