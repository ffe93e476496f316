//! Peer benchmark: rayon with explicit-edge counters. A graph is a CSR
//! successor list plus one atomic pending-predecessor counter per task; a
//! task runs its body, then decrements each successor's counter and spawns
//! the successor it brought to zero (`rayon::scope`). The roots are spawned
//! by the calling thread. The timed figure includes building the graph.
//!   W1  n tasks, no edges, body a[i] = i
//!   W2  a chain of n tasks, body counter = counter + 1
//!   W3  rounds of 1 -> 64 -> 1: head stores v = r, 64 readers store s[i] = v + i,
//!       the joiner checks the 64 stores and counts the round, then feeds the next head
//! Prints `RESULT <W1|W2|W3> rayon <ns per task>` (median of reps after one warm-up).

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering::*};
use std::time::Instant;

struct Graph {
    succ_start: Vec<u32>,
    succ: Vec<u32>,
    pending: Vec<AtomicU32>,
    /// Tasks without predecessors, fixed at construction: `run` must not
    /// find them by scanning `pending` while tasks already run (a successor
    /// they bring to zero would be spawned twice).
    roots: Vec<u32>,
}

impl Graph {
    fn new(n: usize, edges: impl Fn(&mut dyn FnMut(u32, u32))) -> Graph {
        let mut count = vec![0u32; n + 1];
        let mut preds = vec![0u32; n];
        edges(&mut |from, to| {
            count[from as usize + 1] += 1;
            preds[to as usize] += 1;
        });
        for i in 0..n {
            count[i + 1] += count[i];
        }
        let mut fill = count.clone();
        let mut succ = vec![0u32; count[n] as usize];
        edges(&mut |from, to| {
            succ[fill[from as usize] as usize] = to;
            fill[from as usize] += 1;
        });
        let roots = (0..n as u32).filter(|&i| preds[i as usize] == 0).collect();
        Graph { succ_start: count, succ, pending: preds.into_iter().map(AtomicU32::new).collect(), roots }
    }

    fn run(&self, body: &(impl Fn(usize) + Sync)) {
        rayon::scope(|s| {
            for &i in &self.roots {
                s.spawn(move |s| self.task(s, i as usize, body));
            }
        });
    }

    fn task<'s>(&'s self, s: &rayon::Scope<'s>, i: usize, body: &'s (impl Fn(usize) + Sync)) {
        body(i);
        let (lo, hi) = (self.succ_start[i] as usize, self.succ_start[i + 1] as usize);
        for &j in &self.succ[lo..hi] {
            if self.pending[j as usize].fetch_sub(1, AcqRel) == 1 {
                s.spawn(move |s| self.task(s, j as usize, body));
            }
        }
    }
}

fn check(ok: bool, what: &str) {
    if !ok {
        eprintln!("CHECK FAILED: {what}");
        std::process::exit(1);
    }
}

fn w1(n: usize, a: &[AtomicI64]) -> f64 {
    let t0 = Instant::now();
    let g = Graph::new(n, |_| {});
    g.run(&|i| a[i].store(i as i64, Relaxed));
    let ns = t0.elapsed().as_nanos() as f64 / n as f64;
    check(a.iter().enumerate().all(|(i, x)| x.load(Relaxed) == i as i64), "W1 a[i] == i");
    a.iter().for_each(|x| x.store(-1, Relaxed));
    ns
}

fn w2(n: usize) -> f64 {
    let counter = AtomicI64::new(0);
    let t0 = Instant::now();
    let g = Graph::new(n, |e| (1..n as u32).for_each(|i| e(i - 1, i)));
    // Ordered by the edges (AcqRel on the counters): a plain load + store, not an atomic add.
    g.run(&|_| counter.store(counter.load(Relaxed) + 1, Relaxed));
    let ns = t0.elapsed().as_nanos() as f64 / n as f64;
    check(counter.load(Relaxed) == n as i64, "W2 counter == hops");
    ns
}

fn w3(rounds: usize) -> f64 {
    let (v, ok) = (AtomicI64::new(0), AtomicI64::new(0));
    let s: Vec<AtomicI64> = (0..64).map(|_| AtomicI64::new(0)).collect();
    let t0 = Instant::now();
    // Round r: head 66r, readers 66r+1..=66r+64, joiner 66r+65.
    let g = Graph::new(rounds * 66, |e| {
        for r in 0..rounds as u32 {
            let (head, join) = (66 * r, 66 * r + 65);
            if r > 0 {
                e(head - 1, head);
            }
            for k in 1..=64 {
                e(head, head + k);
                e(head + k, join);
            }
        }
    });
    g.run(&|i| {
        let (r, k) = ((i / 66) as i64, i % 66);
        match k {
            0 => v.store(r, Relaxed),
            65 => {
                let all = s.iter().enumerate().all(|(j, x)| x.load(Relaxed) == r + j as i64);
                ok.store(ok.load(Relaxed) + i64::from(all), Relaxed);
            }
            _ => s[k - 1].store(v.load(Relaxed) + k as i64 - 1, Relaxed),
        }
    });
    let ns = t0.elapsed().as_nanos() as f64 / (rounds * 66) as f64;
    check(ok.load(Relaxed) == rounds as i64, "W3 every round saw its 64 stores");
    ns
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let arg = |i: usize, d: usize| std::env::args().nth(i).map_or(d, |s| s.parse().expect("sizes are integers"));
    let (n1, n2, n3, reps) = (arg(1, 1_000_000), arg(2, 100_000), arg(3, 1000), arg(4, 3));
    check(n1 >= 1 && n2 >= 1 && n3 >= 1 && (1..=99).contains(&reps), "sizes >= 1, reps in 1..=99");
    let a: Vec<AtomicI64> = (0..n1).map(|_| AtomicI64::new(-1)).collect();
    let measure = |f: &dyn Fn() -> f64| {
        f(); // warm-up: thread pool, allocator
        median((0..reps).map(|_| f()).collect())
    };
    println!("RESULT W1 rayon {:.1}", measure(&|| w1(n1, &a)));
    println!("RESULT W2 rayon {:.1}", measure(&|| w2(n2)));
    println!("RESULT W3 rayon {:.1}", measure(&|| w3(n3)));
}
