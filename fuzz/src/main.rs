//! The fuzz driver: `fuzz TARGET SECONDS` mutates the target's corpus (`corpus/TARGET/`) for
//! that long on the stable toolchain, with no instrumentation: each input is a corpus entry
//! changed by a few random edits (bit flips, interesting bytes and lengths, insertions,
//! deletions, splices with another entry). An input whose outcome (the decoded kind, opcode,
//! length form, error) was not seen before joins the corpus in memory, so the search spreads
//! over every outcome rather than one; with `--save` those inputs are written to the corpus
//! folder. A failure (a panic or a disagreement with the reference) is written to
//! `crashes/TARGET/` and the run exits 1.

use scgate_fuzz::TARGETS;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest input tried: a few frame headers and a small payload, or a batch of packets.
const MAX_INPUT: usize = 4096;
/// Edits per input: enough to leave a seed's neighbourhood, few enough to keep its structure.
const MAX_EDITS: usize = 8;
/// Byte values that sit on the boundaries the parsers test (length forms, opcodes, masks,
/// JSON punctuation).
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7D, 0x7E, 0x7F, 0x80, 0x81, 0x88, 0x89, 0x8A, 0xFF, b'{', b'}', b'[', b']', b'"',
    b':', b',', b'\\', b'#', b'0', b'-', b'e',
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let save = args.iter().any(|a| a == "--save");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(name), Some(seconds)) = (positional.first(), positional.get(1)) else {
        eprintln!(
            "usage: fuzz TARGET SECONDS [--save]   (targets: {})",
            names()
        );
        std::process::exit(2);
    };
    let Some(target) = TARGETS.iter().find(|t| t.name == name.as_str()) else {
        eprintln!("unknown target {name} (targets: {})", names());
        std::process::exit(2);
    };
    let Ok(seconds) = seconds.parse::<u64>() else {
        eprintln!("SECONDS must be a whole number");
        std::process::exit(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus_dir = root.join("corpus").join(target.name);
    let mut corpus = read_dir(&corpus_dir);
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    // Panics are failures this driver reports itself.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed());
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut added) = (0u64, 0usize);
    while Instant::now() < deadline {
        for _ in 0..1000 {
            let input = mutate(&corpus, &mut rng);
            runs += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
            let failure = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(why)) => Some(why),
                Err(_) => Some("panicked".to_owned()),
            };
            if let Some(why) = failure {
                let path = write(&root.join("crashes").join(target.name), &input);
                eprintln!(
                    "{}: {why}\n  input saved as {}",
                    target.name,
                    path.display()
                );
                std::process::exit(1);
            }
            if seen.insert((target.outcome)(&input)) && corpus.len() < 10_000 {
                if save {
                    write(&corpus_dir, &input);
                }
                corpus.push(input);
                added += 1;
            }
        }
    }
    println!(
        "{}: {runs} inputs in {seconds} s, no failure; {added} new outcomes (corpus {})",
        target.name,
        corpus.len()
    );
}

fn names() -> String {
    TARGETS
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn mutate(corpus: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut input = corpus[rng.below(corpus.len())].clone();
    for _ in 0..=rng.below(MAX_EDITS) {
        let at = rng.below(input.len() + 1);
        match rng.below(7) {
            0 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => input.insert(at, rng.below(256) as u8),
            3 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(input.len() - 1)..end);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            5 if input.len() >= 2 => input.truncate(at.max(1)),
            _ => {
                // A length field on a boundary: 125, 126, 127, 65535, 65536, 2^63.
                let lengths: [&[u8]; 6] = [
                    &[0x7D],
                    &[0xFE, 0x00, 0x7E],
                    &[0xFF, 0, 0, 0, 0, 0, 1, 0, 0],
                    &[0xFE, 0xFF, 0xFF],
                    &[0xFF, 0, 0, 0, 0, 0, 1, 0, 0],
                    &[0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                ];
                let bytes = lengths[rng.below(lengths.len())];
                let i = 1.min(input.len());
                input.splice(i..(i + 1).min(input.len()), bytes.iter().copied());
            }
        }
    }
    input.truncate(MAX_INPUT);
    input
}

fn read_dir(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// Writes `input` under `dir`, named by its content (FNV-1a), and returns the path.
fn write(dir: &Path, input: &[u8]) -> PathBuf {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{hash:016x}"));
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(&path, input);
    path
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// xorshift64*: fast, and seedable so a run can be repeated (`FUZZ_SEED`).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % n.max(1) as u64) as usize
    }
}
