// Key-value storage in IndexedDB for the wasm package (`src/store.rs` binds it): browser
// plumbing is smaller as JS than as wasm bindings. Where IndexedDB does not exist (Node) the
// store lives in memory, one per opened store.

const DB_NAME = "gatebell";
const OBJECT_STORE = "kv";

/** Settles with a request's result, or rejects with its error. */
const settle = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/** Waits until a read-write transaction is durable. */
const committed = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });

/** An open store: IndexedDB when the scope has it, else memory. */
export class KvStore {
  constructor(db) {
    this.db = db;
    this.memory = new Map();
  }

  get indexedDb() {
    return this.db !== null;
  }

  async get(key) {
    if (!this.db) return this.memory.get(key);
    return settle(this.db.transaction(OBJECT_STORE, "readonly").objectStore(OBJECT_STORE).get(key));
  }

  async put(key, value) {
    if (!this.db) return void this.memory.set(key, value);
    const tx = this.db.transaction(OBJECT_STORE, "readwrite");
    tx.objectStore(OBJECT_STORE).put(value, key);
    return committed(tx);
  }

  async delete(key) {
    if (!this.db) return void this.memory.delete(key);
    const tx = this.db.transaction(OBJECT_STORE, "readwrite");
    tx.objectStore(OBJECT_STORE).delete(key);
    return committed(tx);
  }
}

/** Stores `value` under `key` in the background; a failure is only logged. */
export function putSoon(key, value) {
  openKvStore()
    .then((store) => store.put(key, value))
    .catch((e) => console.error(`Gatebell could not store ${key}`, e));
}

/** Opens (and on first use creates) the database. */
export async function openKvStore() {
  if (!globalThis.indexedDB) return new KvStore(null);
  const request = indexedDB.open(DB_NAME, 1);
  // Version 1 is the only version: an upgrade means a new, empty database.
  request.onupgradeneeded = () => request.result.createObjectStore(OBJECT_STORE);
  const db = await settle(request);
  // Another context (a newer worker, a test deleting the database) asks us to let go.
  db.onversionchange = () => db.close();
  return new KvStore(db);
}
