/**
 * Starts fetching and compiling the wasm (call at the worker's top level). `url`: where
 * gatebell_push_worker_bg.wasm is served (default: beside worker.js).
 */
export function preload(url?: string | URL): Promise<unknown>;
/** Whether a push payload or notification data (already parsed) is Gatebell's. */
export function isGatebellPayload(value: unknown): boolean;
/** Shows a Gatebell push and returns true; returns false for another provider's push. */
export function handlePush(event: PushEvent): boolean;
/** Handles a tap on a Gatebell notification and returns true; false for anyone else's. */
export function handleNotificationClick(event: NotificationEvent): boolean;
/** Registers the browser's renewed subscription for the signed-in user; always true. */
export function handleSubscriptionChange(event: ExtendableEvent): boolean;
