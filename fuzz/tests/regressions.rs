//! Replays every corpus entry and every saved failure of every target: the quick part of the
//! fuzzing that `scripts/test.sh` runs. A saved failure stays in `crashes/` once fixed, so it
//! can never come back unnoticed.

use scgate_fuzz::TARGETS;
use std::path::Path;

fn replay(folder: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut count = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target.name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let input = std::fs::read(entry.path()).expect("read");
            if let Err(why) = (target.run)(&input) {
                panic!("{} {}: {why}", target.name, entry.path().display());
            }
            count += 1;
        }
    }
    count
}

#[test]
fn the_corpus_passes() {
    assert!(replay("corpus") > 0, "no corpus");
}

#[test]
fn every_saved_failure_passes_now() {
    replay("crashes");
}
