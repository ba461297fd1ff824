//! `uniffi-bindgen generate --library … --language python|kotlin|swift`, pinned to the
//! uniffi version of gatebell-mobile.

fn main() {
    uniffi::uniffi_bindgen_main()
}
