//! Key-value storage in IndexedDB, shared by the page and the service worker of an origin.
//!
//! One database ([`DB_NAME`]) with one object store; values are plain JS objects (structured
//! clones). Where IndexedDB does not exist (Node) the store lives in memory.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::error::{GatebellError, js_message};
use crate::scope;

/// The IndexedDB database of the package.
pub const DB_NAME: &str = "gatebell";
const OBJECT_STORE: &str = "kv";
/// The core's [`gatebell_core::client::PersistedState`].
pub const KEY_STATE: &str = "clientState";
/// The [`SessionRecord`] the service worker uses to answer Approve / Reject.
pub const KEY_SESSION: &str = "session";

/// What the service worker needs to call the API for the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub api_base: String,
    pub session_token: String,
    pub user_id: String,
}

/// An open store.
pub enum Store {
    IndexedDb {
        db: IdbDatabase,
        /// Kept for as long as the handler is installed.
        _on_version_change: Closure<dyn FnMut()>,
    },
    /// Few keys: a list is smaller in wasm than a hash map.
    Memory(RefCell<Vec<(String, JsValue)>>),
}

fn storage_error(e: JsValue) -> GatebellError {
    GatebellError::new("storage", js_message(&e))
}

/// Waits for an IndexedDB request; the handlers are the promise's own resolve and reject, so
/// no closure outlives the request.
async fn settle(request: &IdbRequest) -> Result<JsValue, GatebellError> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result().map_err(storage_error),
        Err(_) => Err(match request.error() {
            Ok(Some(e)) => storage_error(e.into()),
            _ => GatebellError::new("storage", "IndexedDB request failed"),
        }),
    }
}

/// Waits until a read-write transaction is durable.
async fn committed(tx: &IdbTransaction) -> Result<(), GatebellError> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    outcome.map(drop).map_err(|_| match tx.error() {
        Some(e) => storage_error(e.into()),
        None => GatebellError::new("storage", "IndexedDB transaction aborted"),
    })
}

impl Store {
    /// Opens (and on first use creates) the database, or a memory store without IndexedDB.
    pub async fn open() -> Result<Store, GatebellError> {
        let Some(factory) = scope::global_property("indexedDB") else {
            return Ok(Store::Memory(RefCell::default()));
        };
        let factory: IdbFactory = factory.unchecked_into();
        let request = factory.open_with_u32(DB_NAME, 1).map_err(storage_error)?;
        let upgrade_request = request.clone();
        let on_upgrade = Closure::<dyn FnMut()>::new(move || {
            if let Ok(db) = upgrade_request.result() {
                // Version 1 is the only version: an upgrade means a new, empty database.
                // A failure here aborts the upgrade, which `settle` reports.
                let _ = db
                    .unchecked_into::<IdbDatabase>()
                    .create_object_store(OBJECT_STORE);
            }
        });
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let result = settle(&request).await;
        request.set_onupgradeneeded(None);
        let db: IdbDatabase = result?.unchecked_into();
        // Another context (a newer worker, a test deleting the database) asks us to let go.
        let close_db = db.clone();
        let on_version_change = Closure::<dyn FnMut()>::new(move || close_db.close());
        db.set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        Ok(Store::IndexedDb {
            db,
            _on_version_change: on_version_change,
        })
    }

    fn transaction(
        db: &IdbDatabase,
        mode: IdbTransactionMode,
    ) -> Result<(IdbTransaction, web_sys::IdbObjectStore), GatebellError> {
        let tx = db
            .transaction_with_str_and_mode(OBJECT_STORE, mode)
            .map_err(storage_error)?;
        let store = tx.object_store(OBJECT_STORE).map_err(storage_error)?;
        Ok((tx, store))
    }

    /// The value under `key`; `undefined` when there is none.
    pub async fn get(&self, key: &str) -> Result<JsValue, GatebellError> {
        match self {
            Store::Memory(map) => Ok(map
                .borrow()
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()),
            Store::IndexedDb { db, .. } => {
                let (_tx, store) = Store::transaction(db, IdbTransactionMode::Readonly)?;
                let request = store.get(&key.into()).map_err(storage_error)?;
                settle(&request).await
            }
        }
    }

    /// Stores `value` under `key` and waits until it is committed.
    pub async fn put(&self, key: &str, value: &JsValue) -> Result<(), GatebellError> {
        match self {
            Store::Memory(map) => {
                let mut map = map.borrow_mut();
                map.retain(|(k, _)| k != key);
                map.push((key.to_owned(), value.clone()));
                Ok(())
            }
            Store::IndexedDb { db, .. } => {
                let (tx, store) = Store::transaction(db, IdbTransactionMode::Readwrite)?;
                store
                    .put_with_key(value, &key.into())
                    .map_err(storage_error)?;
                committed(&tx).await
            }
        }
    }

    /// Removes `key` and waits until that is committed.
    pub async fn delete(&self, key: &str) -> Result<(), GatebellError> {
        match self {
            Store::Memory(map) => {
                map.borrow_mut().retain(|(k, _)| k != key);
                Ok(())
            }
            Store::IndexedDb { db, .. } => {
                let (tx, store) = Store::transaction(db, IdbTransactionMode::Readwrite)?;
                store.delete(&key.into()).map_err(storage_error)?;
                committed(&tx).await
            }
        }
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
        crate::js::from_value(value)
            .map(Some)
            .map_err(|e| GatebellError::new("storage", format!("stored {key}: {e}")))
    }

    /// Writes a serde value as a plain JS object.
    pub async fn put_value<T: Serialize>(&self, key: &str, value: &T) -> Result<(), GatebellError> {
        let js = crate::to_js(value)?;
        self.put(key, &js).await
    }
}
