//! The trace writer: the tensormap_and_ringbuffer form byte for byte (the
//! document TRB wrote before the writer was shared), and the plain-id form.

use super::*;

const TRB: TraceForm = TraceForm { variant: "tensormap_and_ringbuffer", ids: TaskIds::RingLocal };
const HBG: TraceForm = TraceForm { variant: "host_build_graph", ids: TaskIds::Plain };

fn sp(task: u64, func: i32, core: u32, sched: u32, lead: bool, start_ns: u64, end_ns: u64) -> TaskSpan {
    TaskSpan { task, func, core, sched, lead, start_ns, end_ns }
}

#[test]
fn ring_local_form_is_byte_exact() {
    let log = TraceLog {
        spans: vec![
            sp(0, 0, 3, 0, true, 1500, 4000),
            sp(1 << 32, 1, 0, 1, true, 4100, 5000),
            sp(1 << 32, 1, 4, 1, false, 4050, 5200),
            sp((1 << 32) | 1, 2, 5, 2, true, 6000, 7001),
        ],
        orch: vec![
            OrchMark::ScopeBegin { ts_ns: 0, depth: 0 },
            OrchMark::Submit { ts_ns: 10, task: 0, depth: 0 },
            OrchMark::ScopeBegin { ts_ns: 20, depth: 1 },
            OrchMark::Submit { ts_ns: 30, task: 1 << 32, depth: 1 },
            OrchMark::Edge { producer: 0, consumer: 1 << 32 },
            OrchMark::Submit { ts_ns: 40, task: (1 << 32) | 1, depth: 1 },
            OrchMark::Edge { producer: 1 << 32, consumer: (1 << 32) | 1 },
            // A producer that never ran draws no arrow.
            OrchMark::Edge { producer: 77, consumer: (1 << 32) | 1 },
            OrchMark::ScopeEnd { ts_ns: 50, depth: 1 },
            OrchMark::ScopeEnd { ts_ns: 8000, depth: 0 },
            OrchMark::Done { ts_ns: 8000 },
        ],
        block_dim: 2,
        sched_threads: 3,
    };
    assert_eq!(to_json(&log, 5, &TRB), include_str!("trace_golden_trb.json"));
}

#[test]
fn plain_form_has_no_ring_or_scope_args_and_a_build_slice() {
    let log = TraceLog {
        spans: vec![sp(0, 4, 1, 0, true, 2000, 3000), sp(1, 7, 2, 1, true, 3500, 3600)],
        orch: vec![
            OrchMark::Build { start_ns: 100, end_ns: 1900, tasks: 2, edges: 1 },
            OrchMark::Edge { producer: 0, consumer: 1 },
        ],
        block_dim: 1,
        sched_threads: 2,
    };
    let j = to_json(&log, 0, &HBG);
    assert!(j.contains("\"simpler device 0 (host_build_graph)\""), "{j}");
    assert!(j.contains("no rings, no scopes"), "{j}");
    assert!(
        j.contains(
            "\"tid\":101,\"ts\":2.000,\"dur\":1.000,\"name\":\"task 0 f4\",\"cat\":\"task\",\
             \"args\":{\"task\":0,\"func\":4,\"core\":1,\"scheduler\":0}"
        ),
        "{j}"
    );
    assert!(j.contains("\"ts\":0.100,\"dur\":1.800,\"name\":\"build graph\""), "{j}");
    assert!(j.contains("\"name\":\"AIV 0.1\""), "{j}");
    assert!(!j.contains("\"ring\"") && !j.contains("scope_depth"), "{j}");
    assert_eq!(j.matches("\"ph\":\"s\"").count(), 1, "{j}");
    assert_eq!(j.matches("\"cat\":\"dispatch\"").count(), 2, "{j}");
}

#[test]
fn recorder_merges_spans_of_threads() {
    let r = Recorder::new(Instant::now());
    let mut a = vec![sp(0, 0, 0, 0, true, 0, r.now())];
    let mut b = vec![sp(1, 0, 1, 1, true, 1, 2)];
    r.merge(&mut a);
    r.merge(&mut b);
    assert!(a.is_empty() && b.is_empty());
    assert_eq!(r.take().len(), 2);
    assert!(r.take().is_empty());
}
