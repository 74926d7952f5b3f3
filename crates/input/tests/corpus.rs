//! Replays the fuzzer's kept corpus (`fuzz/corpus/<target>/`) and every crash it ever found
//! (`fuzz/regressions/<target>/`, kept as found) through the same property checks, as ordinary tests: a
//! fixed crash stays fixed without running the fuzzer.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails its properties", path.display());
            n += 1;
        }
    }
    assert!(n > 0, "no corpus for {target} under fuzz/corpus/{target}");
}

#[test]
fn the_params_corpus_and_crashes_hold() {
    replay("params", satang_input::fuzzing::params);
}

#[test]
fn the_form_corpus_and_crashes_hold() {
    replay("form", satang_input::fuzzing::form);
}

#[test]
fn the_head_corpus_and_crashes_hold() {
    replay("head", satang_input::fuzzing::head);
}
