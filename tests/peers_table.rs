//! `bench/peers/table.py` (the peer suite's table printer) on a fixture: the
//! median, min-max and ours/peer ratio per cell, and a clear error without results.

use std::io::Write;
use std::process::{Command, Stdio};

fn table(input: &str) -> (bool, String, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/peers/table.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test installs it)");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn table_has_median_range_and_ratio_per_cell() {
    let fixture =
        "building ...\nR1 W1 ours 10\nR2 W1 ours 30.5\nR3 W1 ours 20\nR1 W1 omp 5\nR2 W1 omp 6\nR3 W1 omp 4\n\
                   R1 W2 tbb-build 7\nR1 W2 ours 100\nR1 W2 tbb-run 50\nnot a result line\n";
    let (ok, out, err) = table(fixture);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "| workload | libgomp `depend` | oneTBB flow graph, run | oneTBB, build | ours (`simpler bench`) |"
    );
    assert!(lines[2].starts_with("| W1 "), "{out}");
    assert!(lines[2].contains("| 5.0 (4.0-6.0) · ours/peer 4.00 |"), "{out}");
    assert!(lines[2].ends_with("| 20 (10-30) |"), "{out}");
    // The build-only column gets no ratio; the run column does.
    assert!(lines[3].contains("| 50 (50-50) · ours/peer 2.00 | 7.0 (7.0-7.0) | 100 (100-100) |"), "{out}");
    let (ok, _, err) = table("nothing here\n");
    assert!(!ok && err.contains("no result lines"), "{err}");
}
