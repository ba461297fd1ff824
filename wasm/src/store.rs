//! Key-value storage in IndexedDB, shared by the page and the service worker of an origin.
//!
//! One database ([`DB_NAME`]) with one object store; values are plain JS objects (structured
//! clones). Where IndexedDB does not exist (Node) the store lives in memory.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{GatebellError, js_message};

/// The IndexedDB database of the package (named again in `js/store.js`).
pub const DB_NAME: &str = "gatebell";
/// The core's [`gatebell_core::client::PersistedState`].
pub const KEY_STATE: &str = "clientState";
/// The [`SessionRecord`] the service worker uses to answer Approve / Reject.
pub const KEY_SESSION: &str = "session";
/// The API origin the page's PushClient was given, kept apart from the session: an Approve /
/// Reject that carries an action token needs it and nothing else (no session).
pub const KEY_API_BASE: &str = "apiBase";
/// The [`ClickRouting`] of the latest PushClient: where the worker sends a tap.
pub const KEY_ROUTES: &str = "clickRoutes";

/// Where a tap on a notification leads, as the page's PushClient configured it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClickRouting {
    pub paths: gatebell_core::routing::RoutePaths,
    /// A page gave `onNavigate`: an open window is asked to route client-side first.
    pub client_side: bool,
}

/// What the service worker needs to call the API for the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub api_base: String,
    pub session_token: String,
    pub user_id: String,
}

#[wasm_bindgen(module = "/js/store.js")]
extern "C" {
    /// An open store (`js/store.js`).
    pub type KvStore;

    #[wasm_bindgen(js_name = openKvStore)]
    fn open_kv_store() -> js_sys::Promise;

    /// Stores `value` under `key` in the background; a failure is only logged.
    #[wasm_bindgen(js_name = putSoon)]
    pub fn put_soon(key: &str, value: &JsValue);

    #[wasm_bindgen(method, getter, js_name = indexedDb)]
    fn indexed_db(this: &KvStore) -> bool;

    #[wasm_bindgen(method, js_name = get)]
    fn get_js(this: &KvStore, key: &str) -> js_sys::Promise;

    #[wasm_bindgen(method, js_name = put)]
    fn put_js(this: &KvStore, key: &str, value: &JsValue) -> js_sys::Promise;

    #[wasm_bindgen(method, js_name = delete)]
    fn delete_js(this: &KvStore, key: &str) -> js_sys::Promise;
}

/// An open store: the database [`DB_NAME`] with one object store, or memory where IndexedDB
/// does not exist (Node). The IndexedDB plumbing is JS (`js/store.js`): smaller than bindings.
pub struct Store(KvStore);

async fn settle(promise: js_sys::Promise) -> Result<JsValue, GatebellError> {
    JsFuture::from(promise)
        .await
        .map_err(|e| GatebellError::new("storage", js_message(&e)))
}

impl Store {
    /// Opens (and on first use creates) the database, or a memory store without IndexedDB.
    pub async fn open() -> Result<Store, GatebellError> {
        Ok(Store(settle(open_kv_store()).await?.unchecked_into()))
    }

    /// Whether the values live in IndexedDB (rather than memory).
    pub fn is_indexed_db(&self) -> bool {
        self.0.indexed_db()
    }

    /// The value under `key`; `undefined` when there is none.
    pub async fn get(&self, key: &str) -> Result<JsValue, GatebellError> {
        settle(self.0.get_js(key)).await
    }

    /// Stores `value` under `key` and waits until it is committed.
    pub async fn put(&self, key: &str, value: &JsValue) -> Result<(), GatebellError> {
        settle(self.0.put_js(key, value)).await.map(drop)
    }

    /// Removes `key` and waits until that is committed.
    pub async fn delete(&self, key: &str) -> Result<(), GatebellError> {
        settle(self.0.delete_js(key)).await.map(drop)
    }

    /// Reads a serde value; `None` when absent.
    pub async fn get_value<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, GatebellError> {
        let value = self.get(key).await?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        crate::from_js(value)
            .map(Some)
            .map_err(|e| GatebellError::new("storage", format!("stored {key}: {e}")))
    }

    /// Writes a serde value as a plain JS object.
    pub async fn put_value<T: Serialize>(&self, key: &str, value: &T) -> Result<(), GatebellError> {
        let js = crate::to_js(value)?;
        self.put(key, &js).await
    }
}
