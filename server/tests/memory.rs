//! Memory after password hashing, in a process of its own (resident memory is per process):
//! Argon2's blocks freed on many threads must go back to the OS.

use gatebell_server::domain::sessions::hash_password;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb / 1024.0
}

#[test]
fn hashing_on_many_threads_leaves_no_resident_blocks() {
    gatebell_server::access::throttle::release_large_blocks();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .build()
        .unwrap();
    // Warm up: runtime threads, Argon2's code, one hash.
    rt.block_on(hash_password("warm-up".into())).unwrap();
    let before = rss_mb();
    // 16 hashes at once: each on its own blocking thread, each with a 19 MiB block.
    rt.block_on(async {
        let hashes: Vec<_> = (0..16)
            .map(|i| tokio::spawn(hash_password(format!("password-{i}"))))
            .collect();
        for h in hashes {
            h.await.unwrap().unwrap();
        }
    });
    let after = rss_mb();
    // Without release_large_blocks this grows by 16 × 19 MiB (about 300 MB).
    assert!(
        after - before < 40.0,
        "resident memory grew from {before:.0} MB to {after:.0} MB"
    );
}
