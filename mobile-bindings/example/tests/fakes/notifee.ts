// @notifee/react-native at the module boundary: records channels, categories (each write
// replaces them all, as on iOS) and displayed notifications, and the event handlers, so the
// test can press a button. Enum values are
// notifee's.
export enum AndroidImportance {
  DEFAULT = 3,
  HIGH = 4,
}
export enum AuthorizationStatus {
  NOT_DETERMINED = -1,
  DENIED = 0,
  AUTHORIZED = 1,
}
export enum EventType {
  UNKNOWN = -1,
  DISMISSED = 0,
  PRESS = 1,
  ACTION_PRESS = 2,
  DELIVERED = 3,
}

export interface PressAction {
  id: string;
  launchActivity?: string;
}
export interface Notification {
  id?: string;
  title?: string;
  body?: string;
  data?: { [key: string]: string | object | number };
  android?: {
    channelId?: string;
    pressAction?: PressAction;
    actions?: { title: string; pressAction: PressAction }[];
  };
  ios?: { categoryId?: string };
}
export interface AndroidChannel {
  id: string;
  name: string;
  importance?: AndroidImportance;
  sound?: string;
}
export interface IOSNotificationCategoryAction {
  id: string;
  title: string;
  foreground?: boolean;
  authenticationRequired?: boolean;
  destructive?: boolean;
}
export interface IOSNotificationCategory {
  id: string;
  actions?: IOSNotificationCategoryAction[];
}
export interface EventDetail {
  notification?: Notification;
  pressAction?: PressAction;
}
export interface Event {
  type: EventType;
  detail: EventDetail;
}
export interface InitialNotification {
  notification: Notification;
  pressAction: PressAction;
}

export const fake = {
  channels: [] as AndroidChannel[],
  categories: [] as IOSNotificationCategory[],
  /** How many times the categories were written (each write replaces them all). */
  categoryWrites: 0,
  displayed: [] as Notification[],
  cancelled: [] as string[],
  backgroundHandler: undefined as ((event: Event) => Promise<void>) | undefined,
  foregroundObservers: [] as ((event: Event) => void)[],
  initial: null as InitialNotification | null,
  permissionAsked: 0,
  reset() {
    this.channels = [];
    this.categories = [];
    this.categoryWrites = 0;
    this.displayed = [];
    this.cancelled = [];
    this.backgroundHandler = undefined;
    this.foregroundObservers = [];
    this.initial = null;
    this.permissionAsked = 0;
  },
};

const notifee = {
  async createChannel(channel: AndroidChannel): Promise<string> {
    fake.channels.push(channel);
    return channel.id;
  },
  async setNotificationCategories(categories: IOSNotificationCategory[]): Promise<void> {
    fake.categories = structuredClone(categories);
    fake.categoryWrites += 1;
  },
  async getNotificationCategories(): Promise<IOSNotificationCategory[]> {
    return structuredClone(fake.categories);
  },
  async displayNotification(notification: Notification): Promise<string> {
    fake.displayed.push(notification);
    return notification.id ?? `n-${fake.displayed.length}`;
  },
  async cancelNotification(id: string): Promise<void> {
    fake.cancelled.push(id);
  },
  async requestPermission(): Promise<{ authorizationStatus: AuthorizationStatus }> {
    fake.permissionAsked += 1;
    return { authorizationStatus: AuthorizationStatus.AUTHORIZED };
  },
  onBackgroundEvent(handler: (event: Event) => Promise<void>): void {
    fake.backgroundHandler = handler;
  },
  onForegroundEvent(observer: (event: Event) => void): () => void {
    fake.foregroundObservers.push(observer);
    return () => {
      fake.foregroundObservers = fake.foregroundObservers.filter((o) => o !== observer);
    };
  },
  async getInitialNotification(): Promise<InitialNotification | null> {
    return fake.initial;
  },
};

export default notifee;
