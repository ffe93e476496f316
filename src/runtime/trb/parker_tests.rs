//! The Parker handshake on its own: idle threads spin (bounded), park with
//! a long timeout and must be woken for every item a producer publishes. A
//! lost wakeup would leave an item pending for the whole park timeout
//! (10 s), far beyond the bound the test allows.

use super::{DormantStart, Parker};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use std::sync::{mpsc, Arc, Mutex};
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
    // With `dormant`, every consumer but the first waits to be started by a
    // `wake_one` that finds nobody idle (the engine's lazy start).
    for (threads, max_spinners, dormant) in
        [(1, 1, false), (2, 1, false), (3, 1, false), (3, 3, false), (3, 1, true), (4, 3, true)]
    {
        let p = Parker::default();
        let items = AtomicU64::new(0);
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let n = 3000u64;
        let t0 = Instant::now();
        std::thread::scope(|s| {
            let mut starts: Vec<DormantStart> = Vec::new();
            for k in 0..threads {
                let (tx, rx) = mpsc::channel::<()>();
                if dormant && k > 0 {
                    starts.push(Box::new(move || tx.send(()).unwrap()));
                } else {
                    tx.send(()).unwrap();
                }
                let (p, items, done, stop) = (&p, &items, &done, &stop);
                let counted = dormant && k > 0;
                s.spawn(move || {
                    if rx.recv().is_ok() {
                        if counted {
                            // Started as a counted spinner: it looks for items next.
                            p.stop_spinning();
                        }
                        consumer(p, items, done, stop, max_spinners);
                    }
                });
            }
            starts.reverse();
            p.set_dormant(starts);
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
            drop(p.take_dormant());
        });
        assert_eq!(done.load(Acquire), n, "{threads} consumer(s): items lost");
        // Thirty forced parks plus 3000 handoffs; a lost wakeup costs 10 s.
        assert!(t0.elapsed() < Duration::from_secs(8), "{threads} consumer(s): took {:?}", t0.elapsed());
    }
}

/// Dormant starts that only record their number, in start order.
fn recorded_starts() -> (Arc<Mutex<Vec<usize>>>, impl Fn(usize) -> DormantStart) {
    let started = Arc::new(Mutex::new(Vec::new()));
    let log = started.clone();
    let start = move |k: usize| -> DormantStart {
        let log = log.clone();
        Box::new(move || log.lock().unwrap().push(k))
    };
    (started, start)
}

#[test]
fn wake_one_starts_a_dormant_thread_only_when_no_thread_is_idle() {
    let p = Parker::default();
    let (started, start) = recorded_starts();
    assert!(!p.wakeable());
    p.set_dormant(vec![start(2), start(1)]);
    assert!(p.wakeable(), "a dormant thread can be started");
    // A spinner finds the work: nobody is started.
    assert!(p.start_spinning(1));
    assert!(!p.wakeable(), "a spinner finds the work");
    p.wake_one();
    p.stop_spinning();
    assert!(started.lock().unwrap().is_empty());
    // A parked thread is woken before a dormant one is started.
    p.announce();
    p.wake_one();
    assert!(started.lock().unwrap().is_empty());
    // Nobody idle but the dormant: the last given starts first, counted as
    // a spinner (so the next wake starts nobody until it stops spinning).
    p.wake_one();
    assert_eq!(*started.lock().unwrap(), [1]);
    p.wake_one();
    assert_eq!(*started.lock().unwrap(), [1]);
    p.stop_spinning();
    // The engine takes back the rest at the end of the run; they never start.
    let rest = p.take_dormant();
    assert_eq!(rest.len(), 1);
    assert!(!p.wakeable());
    p.wake_one();
    drop(rest);
    assert_eq!(*started.lock().unwrap(), [1]);
}

#[test]
fn the_start_cap_bounds_started_threads_until_it_is_lifted() {
    let p = Parker::default();
    let (started, start) = recorded_starts();
    assert!(!p.capped());
    assert!(!p.lift_start_cap(), "no cap to lift");
    p.set_dormant(vec![start(3), start(2), start(1)]);
    p.cap_starts(1);
    assert!(p.capped());
    assert!(p.wakeable());
    // The budget allows one start.
    p.wake_one();
    p.stop_spinning();
    assert_eq!(*started.lock().unwrap(), [1]);
    // Spent: nobody else starts, and a thread holding tasks need not try
    // (one started after the lift steals them).
    assert!(!p.wakeable());
    p.wake_one();
    assert_eq!(*started.lock().unwrap(), [1]);
    // Lifting reports that there was a cap, once; then every dormant thread may start.
    assert!(p.lift_start_cap());
    assert!(!p.lift_start_cap());
    assert!(!p.capped());
    assert!(p.wakeable());
    p.wake_one();
    p.stop_spinning();
    p.wake_one();
    p.stop_spinning();
    assert_eq!(*started.lock().unwrap(), [1, 2, 3]);
    assert!(!p.wakeable());
}
