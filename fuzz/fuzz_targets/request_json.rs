//! Every request body the API takes, parsed from any bytes: no panic, and what parses
//! serialises back to JSON that parses to the same value.
#![no_main]

use gatebell_core::protocol::{
    CheckinRequest, DecisionRequest, InternalNotifyRequest, InternalUserRequest,
    InternalVisitRequest, InviteRequest, LoginRequest, PreferencesUpdate, RegisterDeviceRequest,
    SetDisabledRequest,
    UnregisterDeviceRequest, WalkinRequest, WebPushSubscription,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&value).expect("serialises");
        let again: T = serde_json::from_slice(&json).expect("parses its own output");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<LoginRequest>(data);
    round_trip::<InviteRequest>(data);
    round_trip::<CheckinRequest>(data);
    round_trip::<WalkinRequest>(data);
    round_trip::<RegisterDeviceRequest>(data);
    round_trip::<UnregisterDeviceRequest>(data);
    round_trip::<WebPushSubscription>(data);
    round_trip::<InternalNotifyRequest>(data);
    round_trip::<InternalUserRequest>(data);
    round_trip::<InternalVisitRequest>(data);
    round_trip::<SetDisabledRequest>(data);
    round_trip::<DecisionRequest>(data);
    round_trip::<PreferencesUpdate>(data);
});
