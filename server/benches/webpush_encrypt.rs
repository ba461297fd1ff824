//! The CPU of one Web Push payload's RFC 8291 encryption, two ways, on one thread (not a test:
//! it prints figures): the `web-push` crate's message builder (the `ece` crate on OpenSSL) and
//! `gatebell_server::channels::ece` (on `ring`), which the server uses. Same receiver keys and a
//! Gatebell-sized walk-in payload; each result is decrypted once to show both are correct.
//!
//! `cargo bench -p gatebell-server --bench webpush_encrypt` — knob `N` (5000 messages per way).

use std::time::Instant;

use gatebell_server::channels::ece;
use gatebell_testkit::FakeWebPush;
use web_push::{ContentEncoding, SubscriptionInfo, WebPushMessageBuilder};

const PAYLOAD: &[u8] = br#"{"gatebell":1,"type":"walkin_pending","visitId":"0192f1a2-3b4c-7d5e-8f60-718293a4b5c6","notificationId":"0192f1a2-3b4c-7d5e-8f60-718293a4b5c7","title":"Visitor at the gate","body":"Ravi Kumar is at the gate for A-101 (Delivery)","tag":"visit-0192f1a2-3b4c-7d5e-8f60-718293a4b5c6","actionToken":"q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94","actions":[{"action":"approve","title":"Approve"},{"action":"reject","title":"Reject"}]}"#;

/// Microseconds per call of `f`, over `n` calls.
fn per_call(n: usize, mut f: impl FnMut() -> Vec<u8>) -> f64 {
    for _ in 0..n / 10 {
        std::hint::black_box(f());
    }
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let fake = FakeWebPush::start().await;
    let sub = fake.new_subscription();
    let (p256dh, auth) = (
        sub.subscription.keys.p256dh.clone(),
        sub.subscription.keys.auth.clone(),
    );

    let info = SubscriptionInfo::new(sub.endpoint(), &p256dh, &auth);
    let with_crate = || {
        let mut b = WebPushMessageBuilder::new(&info);
        b.set_payload(ContentEncoding::Aes128Gcm, PAYLOAD);
        b.build().unwrap().payload.unwrap().content
    };
    let keys = ece::ReceiverKeys::from_base64(&p256dh, &auth).unwrap();
    let with_ring = || ece::encrypt(&keys, PAYLOAD).unwrap();

    for (name, body) in [
        ("web-push crate", with_crate()),
        ("channels::ece", with_ring()),
    ] {
        assert_eq!(sub.decrypt(&body).unwrap(), PAYLOAD, "{name} decrypts");
    }
    let crate_us = per_call(n, with_crate);
    let ring_us = per_call(n, with_ring);
    println!(
        "RFC 8291 encryption of a {} byte walk-in payload, one thread, {n} messages each:",
        PAYLOAD.len()
    );
    println!("  web-push crate (ece on OpenSSL): {crate_us:.1} µs per message");
    println!(
        "  channels::ece (ring):            {ring_us:.1} µs per message ({:.1}× less)",
        crate_us / ring_us
    );
}
