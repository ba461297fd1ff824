//! Work bounded before authentication. A login costs an Argon2 hash (19 MiB, tens of
//! milliseconds), unknown emails included, so without limits anyone can exhaust memory and
//! CPU without an account. Hashing runs on a pool of about one slot per core with a short
//! queue (beyond it: 503 and `Retry-After`), and login attempts are rate-limited per client
//! address and per account (429 and `Retry-After`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

/// Makes the allocator hand Argon2's 19 MiB blocks back to the OS when they are freed. glibc
/// raises its mmap threshold after the first large block is freed; from then on such blocks
/// come from the arena of whichever thread hashes, and each arena keeps its block: measured,
/// 64 failed sign-ins left the process 190 MB larger for good. A fixed threshold keeps large
/// blocks mmapped (released on free) and turns the dynamic adjustment off. Call it first in
/// `main`, before threads start.
pub fn release_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no pointer is involved.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Why a login was not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many attempts from this address or for this account; try again after this long.
    RateLimited(Duration),
    /// Every hashing slot is busy and the queue is full; try again after this long.
    Busy(Duration),
    /// Too many of what a [`KeyedLimit`] counts (its words); try again after this long.
    Limited(&'static str, Duration),
}

/// Hashing slots with a bounded queue.
#[derive(Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    /// Callers holding or waiting for a slot.
    admitted: AtomicUsize,
    max_admitted: usize,
}

impl HashPool {
    /// `slots` hashes at once, and at most `queue` more callers waiting.
    pub fn new(slots: usize, queue: usize) -> HashPool {
        let slots = slots.max(1);
        HashPool {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: AtomicUsize::new(0),
            max_admitted: slots + queue,
        }
    }

    /// One slot per core, a queue of four per core.
    pub fn per_core() -> HashPool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashPool::new(cores, 4 * cores)
    }

    /// Runs blocking `work` in a slot, or refuses at once when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.max_admitted {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::Busy(Duration::from_secs(1)));
        }
        let _admitted = Admitted(&self.admitted);
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // The slot goes with the work: a cancelled caller does not free it while hashing runs.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|_| Refused::Busy(Duration::from_secs(1)))
    }
}

/// Leaves the queue count when dropped, also when the caller's future is cancelled.
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Login attempts per client address and per account.
#[derive(Clone)]
pub struct LoginLimits {
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_account: Arc<DefaultKeyedRateLimiter<String>>,
}

impl LoginLimits {
    /// `per_ip` and `per_account` attempts a minute, each also the burst allowed at once.
    pub fn new(per_ip: u32, per_account: u32) -> LoginLimits {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n.max(1)).expect("at least one");
            Quota::per_minute(n).allow_burst(n)
        };
        LoginLimits {
            per_ip: Arc::new(RateLimiter::keyed(quota(per_ip))),
            per_account: Arc::new(RateLimiter::keyed(quota(per_account))),
        }
    }

    /// Counts one attempt from `ip` for `account` (a normalised email), or refuses it.
    pub fn attempt(&self, ip: IpAddr, account: &str) -> Result<(), Refused> {
        let now = DefaultClock::default().now();
        self.per_ip
            .check_key(&ip)
            .map_err(|n| Refused::RateLimited(n.wait_time_from(now)))?;
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|n| Refused::RateLimited(n.wait_time_from(now)))?;
        // Forget addresses and accounts whose allowance has fully refilled, so a flood of
        // distinct keys does not grow the maps for ever.
        if self.per_ip.len() > 10_000 {
            self.per_ip.retain_recent();
        }
        if self.per_account.len() > 10_000 {
            self.per_account.retain_recent();
        }
        Ok(())
    }
}

/// A rate limit per key (a client address, a guard, a text's recipient): `n` per period, also
/// the burst allowed at once. Kept per instance.
pub struct KeyedLimit<K: std::hash::Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
    /// What it counts, for the refusal: "decisions from this address".
    what: &'static str,
}

impl<K: std::hash::Hash + Eq + Clone> Clone for KeyedLimit<K> {
    fn clone(&self) -> Self {
        KeyedLimit {
            limiter: self.limiter.clone(),
            what: self.what,
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimit<K> {
    /// `n` a minute of `what`.
    pub fn per_minute(n: u32, what: &'static str) -> KeyedLimit<K> {
        let n = NonZeroU32::new(n.max(1)).expect("at least one");
        KeyedLimit {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))),
            what,
        }
    }

    /// `n` an hour of `what`.
    pub fn per_hour(n: u32, what: &'static str) -> KeyedLimit<K> {
        let n = NonZeroU32::new(n.max(1)).expect("at least one");
        KeyedLimit {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_hour(n).allow_burst(n))),
            what,
        }
    }

    /// Counts one for `key`, or refuses it with the time until the next is allowed.
    pub fn check(&self, key: &K) -> Result<(), Refused> {
        let now = DefaultClock::default().now();
        self.limiter
            .check_key(key)
            .map_err(|n| Refused::Limited(self.what, n.wait_time_from(now)))?;
        // Keys whose allowance has refilled are forgotten, so many keys cannot grow the map.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        Ok(())
    }
}

/// Open event streams per user on this instance, so that one account cannot hold an unbounded
/// number of long-lived connections (and broadcast receivers).
#[derive(Debug, Clone, Default)]
pub struct StreamSlots {
    open: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// One open stream; dropping it (the client went away, the stream ended) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: StreamSlots,
    user_id: String,
}

impl StreamSlots {
    /// A slot for one more stream of `user_id`, unless `max` are open already.
    pub fn acquire(&self, user_id: &str, max: usize) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user_id.to_owned()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user_id: user_id.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

impl From<Refused> for crate::error::ApiError {
    fn from(r: Refused) -> crate::error::ApiError {
        use crate::error::ApiError;
        // Whole seconds, rounded up: a client retrying on time must not be refused again.
        let secs = |d: std::time::Duration| d.as_millis().div_ceil(1000) as u64;
        match r {
            Refused::RateLimited(wait) => ApiError::TooManyRequests(
                "too many sign-in attempts; wait before trying again".into(),
                secs(wait),
            ),
            Refused::Busy(wait) => ApiError::Busy(secs(wait)),
            Refused::Limited(what, wait) => ApiError::TooManyRequests(
                format!("too many {what}; wait before trying again"),
                secs(wait),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_per_account_quota_are_refused_with_a_wait() {
        let l = LoginLimits::new(100, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            l.attempt(ip, "asha@x").unwrap();
        }
        match l.attempt(ip, "asha@x") {
            Err(Refused::RateLimited(wait)) => {
                assert!(
                    wait > Duration::ZERO && wait <= Duration::from_secs(20),
                    "{wait:?}"
                )
            }
            other => panic!("fourth attempt: {other:?}"),
        }
        // Another account from the same address is still allowed.
        l.attempt(ip, "arjun@x").unwrap();
    }

    #[test]
    fn attempts_past_the_per_address_quota_are_refused_for_every_account() {
        let l = LoginLimits::new(2, 100);
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        l.attempt(ip, "a@x").unwrap();
        l.attempt(ip, "b@x").unwrap();
        assert!(matches!(l.attempt(ip, "c@x"), Err(Refused::RateLimited(_))));
        l.attempt("192.0.2.3".parse().unwrap(), "c@x").unwrap();
    }

    #[tokio::test]
    async fn the_pool_refuses_beyond_its_queue_and_recovers() {
        let pool = Arc::new(HashPool::new(1, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        // One running, one queued: both admitted.
        let mut running = Vec::new();
        for _ in 0..2 {
            let (pool, wait) = (pool.clone(), wait.clone());
            running.push(tokio::spawn(async move {
                pool.run(move || wait.lock().unwrap().recv().unwrap()).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A third caller is refused at once instead of waiting.
        assert!(matches!(pool.run(|| ()).await, Err(Refused::Busy(_))));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for r in running {
            r.await.unwrap().unwrap();
        }
        // With the queue drained, work is admitted again.
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_cancelled_caller_leaves_the_queue() {
        let pool = HashPool::new(1, 0);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocker = pool.run(move || wait.recv().unwrap());
        // Polled once (admitted, holding the slot), then dropped.
        let _ = tokio::time::timeout(Duration::from_millis(50), blocker).await;
        release.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }

    #[test]
    fn stream_slots_are_capped_per_user_and_freed_on_drop() {
        let slots = StreamSlots::default();
        let a = slots.acquire("u1", 2).unwrap();
        let _b = slots.acquire("u1", 2).unwrap();
        assert!(slots.acquire("u1", 2).is_none());
        assert!(slots.acquire("u2", 2).is_some());
        drop(a);
        assert!(slots.acquire("u1", 2).is_some());
    }
}
