//! The Parker handshake on its own: idle threads spin (bounded), park with
//! a long timeout and must be woken for every item a producer publishes. A
//! lost wakeup would leave an item pending for the whole park timeout
//! (10 s), far beyond the bound the test allows.

use super::Parker;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// Takes one item if any.
fn take(items: &AtomicU64) -> bool {
    items.fetch_update(AcqRel, Acquire, |n| n.checked_sub(1)).is_ok()
}

/// The scheduler loop's idle protocol around an item counter.
fn consumer(p: &Parker, items: &AtomicU64, done: &AtomicU64, stop: &AtomicBool, max_spinners: usize) {
    while !stop.load(Acquire) {
        if take(items) {
            done.fetch_add(1, AcqRel);
            continue;
        }
        let spinning = p.start_spinning(max_spinners);
        if spinning {
            let mut found = false;
            for _ in 0..64 {
                if items.load(Acquire) > 0 || stop.load(Acquire) {
                    found = true;
                    break;
                }
                std::hint::spin_loop();
            }
            if found {
                p.stop_spinning();
                continue;
            }
        }
        p.announce();
        if spinning {
            p.stop_spinning();
        }
        fence(SeqCst);
        if items.load(SeqCst) == 0 && !stop.load(SeqCst) {
            std::thread::park_timeout(Duration::from_secs(10));
        }
        p.retract();
    }
}

#[test]
fn parked_threads_are_woken_for_every_item() {
    for (threads, max_spinners) in [(1, 1), (2, 1), (3, 1), (3, 3)] {
        let p = Parker::default();
        let items = AtomicU64::new(0);
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let n = 3000u64;
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| consumer(&p, &items, &done, &stop, max_spinners));
            }
            for i in 0..n {
                items.fetch_add(1, Release);
                p.wake_one();
                // Now and then let every consumer go idle and park.
                if i % 100 == 0 {
                    let w = Instant::now();
                    while done.load(Acquire) <= i && w.elapsed() < Duration::from_secs(20) {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            let w = Instant::now();
            while done.load(Acquire) < n && w.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_micros(100));
            }
            stop.store(true, SeqCst);
            p.wake_all();
        });
        assert_eq!(done.load(Acquire), n, "{threads} consumer(s): items lost");
        // Thirty forced parks plus 3000 handoffs; a lost wakeup costs 10 s.
        assert!(t0.elapsed() < Duration::from_secs(8), "{threads} consumer(s): took {:?}", t0.elapsed());
    }
}
