//! The scope-stats reader on well-formed files and on every kind of defect.

use super::*;

const META: &str = r#"{"version": 6, "fatal": true, "dropped": 1, "total": 3, "task_window_max": [16, 32, 64, 128], "heap_max": [4096, 4096, 8192, 8192], "dep_pool_max": [16, 16, 16, 16], "tensormap_max": 65536}"#;
const BEGIN: &str = r#"{"site": "a \"b\"\\c\u0041.cpp:7", "phase": "begin", "depth": 1, "ring": 2, "task_window_start": 3, "task_window_end": 5, "heap_start": 0, "heap_end": 100, "dep_pool_start": -1, "dep_pool_end": 4, "tensormap": 9}"#;

fn defect(text: &str) -> String {
    parse_scope_stats(text).expect_err("the text is refused")
}

#[test]
fn reads_the_metadata_and_every_field_of_a_record() {
    let s = parse_scope_stats(&format!("{META}\n\n{BEGIN}\n")).unwrap();
    let m = &s.meta;
    assert_eq!((m.version, m.fatal, m.dropped, m.total, m.tensormap_max), (6, true, 1, 3, 65536));
    assert_eq!((m.task_window_max, m.heap_max, m.dep_pool_max), ([16, 32, 64, 128], [4096, 4096, 8192, 8192], [16; 4]));
    let (line, r) = &s.records[0];
    assert_eq!(*line, 3);
    assert_eq!(r.site, "a \"b\"\\cA.cpp:7");
    assert_eq!((r.phase, r.depth, r.ring), (ScopePhase::Begin, 1, 2));
    assert_eq!((r.task_window_start, r.task_window_end, r.heap_start, r.heap_end), (3, 5, 0, 100));
    assert_eq!((r.dep_pool_start, r.dep_pool_end, r.tensormap), (-1, 4, 9));
    // Optional metadata fields default to 0; unknown fields are ignored.
    let lean = r#"{"version": 6, "fatal": false, "extra": [1, {"x": null}], "task_window_max": [1, 1, 1, 1], "heap_max": [1, 1, 1, 1], "dep_pool_max": [1, 1, 1, 1]}"#;
    let m = parse_scope_stats(lean).unwrap().meta;
    assert_eq!((m.dropped, m.total, m.tensormap_max), (0, 0, 0));
}

#[test]
fn defects_name_their_line_column_and_rule() {
    assert!(defect("").contains("empty file"));
    assert_eq!(defect("%%%"), "line 1, column 1: expected value");
    assert_eq!(defect(&format!("{META} x")), format!("line 1, column {}: trailing characters", META.len() + 2));
    assert!(defect(&META.replace("\"version\": 6", "\"version\": 5")).contains("line 1: format version 5"));
    let e = defect(&META.replace("\"heap_max\": [4096, 4096, 8192, 8192], ", ""));
    assert!(e.starts_with("line 1, column") && e.ends_with("missing field `heap_max`"), "{e}");
    let e = defect(&META.replace("[16, 32, 64, 128]", "[16, 32]"));
    assert!(e.contains("`task_window_max`: expected an array of 4 unsigned integers"), "{e}");
    let e = defect(&format!("{META}\n{}", BEGIN.replace("\"depth\": 1", "\"depth\": \"one\"")));
    let column = BEGIN.find("\"depth\"").unwrap() + 10;
    assert_eq!(
        e,
        format!("line 2, column {column}: field `depth`: expected an unsigned 32-bit integer, found a string")
    );
    let e = defect(&format!("{META}\n{}", BEGIN.replace("\"ring\": 2", "\"ring\": -2")));
    assert!(e.contains("field `ring`: expected an unsigned 32-bit integer, found -2"), "{e}");
    let e = defect(&format!("{META}\n{}", BEGIN.replace("\"begin\"", "\"middle\"")));
    assert!(e.contains("`middle` is neither \"begin\" nor \"end\""), "{e}");
    let e = defect(&format!("{META}\n{}", BEGIN.replace("\"ring\": 2", "\"ring\": 4")));
    assert!(e.contains("line 2: ring 4 is out of range (rings are 0..3)"), "{e}");
    let e = defect(&format!(
        "{META}\n{}",
        BEGIN.replace("\"heap_end\": 100", "\"heap_end\": 0").replace("\"heap_start\": 0", "\"heap_start\": 7")
    ));
    assert!(e.contains("line 2: heap_end 0 is below heap_start 7"), "{e}");
    assert!(defect("[1, 2]").contains("expected an object, found an array"));
    assert!(defect(r#"{"a": "\q"}"#).contains("invalid escape"));
    assert!(defect(r#"{"a": "open"#).contains("unterminated string"));
    assert!(defect(r#"{"a" 1}"#).contains("expected `:`"));
    assert!(defect(r#"{"a": 1 "b": 2}"#).contains("expected `,` or `}`"));
    assert!(defect(r#"{"a": 1.5.5}"#).contains("invalid number"));
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(40), "]".repeat(40));
    assert!(defect(&deep).contains("nested deeper than 32 levels"));
}
