//! The replica log file: what is saved is what recovery reads back; a torn tail is dropped
//! without repair; damage keeps the prefix and repairs; the broken reader keeps a torn entry.

use super::*;
use crate::storage::memory::MemStorage;
use proptest::prelude::*;

/// Payloads are numbers; snapshots are lists of numbers.
struct Numbers;

impl Codec<u64, Vec<u64>> for Numbers {
    fn put_entry(&self, entry: &u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&entry.to_le_bytes());
        // Entries of some length, so that tears land inside payloads.
        out.extend_from_slice(&[0xAB; 24]);
    }
    fn entry(&self, bytes: &[u8]) -> Result<u64, String> {
        if bytes.len() != 32 || bytes[8..].iter().any(|&b| b != 0xAB) {
            return Err("not a number entry".into());
        }
        Ok(u64::from_le_bytes(bytes[..8].try_into().expect("8")))
    }
    fn put_snapshot(&self, snapshot: &Vec<u64>, out: &mut Vec<u8>) {
        for n in snapshot {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    fn snapshot(&self, bytes: &[u8]) -> Result<Vec<u64>, String> {
        if !bytes.len().is_multiple_of(8) {
            return Err("a snapshot of whole numbers".into());
        }
        Ok(bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
            .collect())
    }
}

type P = Persistent<u64, Vec<u64>>;

fn empty() -> P {
    Persistent::empty()
}

fn entry(term: u64, payload: u64) -> LogEntry<u64> {
    LogEntry {
        term,
        payload: Some(payload),
    }
}

fn read(storage: &MemStorage, verify: bool) -> Recovered<u64, Vec<u64>> {
    recover(storage, "r.log", &Numbers, verify)
        .expect("readable")
        .expect("present")
}

#[test]
fn what_is_saved_is_read_back() {
    let storage = MemStorage::new();
    let mut p = empty();
    let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
    p.term = 2;
    p.voted_for = Some(1);
    p.log = vec![
        entry(1, 10),
        LogEntry {
            term: 2,
            payload: None,
        },
        entry(2, 30),
    ];
    file.save(&storage, &p, &Numbers, false).unwrap();
    // A conflict: the last two replaced by a newer leader's.
    p.term = 3;
    p.voted_for = None;
    p.log.truncate(1);
    p.log.extend([entry(3, 40), entry(3, 50)]);
    file.save(&storage, &p, &Numbers, true).unwrap();
    let back = read(&storage, true);
    assert_eq!(back.problem, None);
    assert_eq!(back.persistent, p);
    // A compaction rewrites the file with the snapshot as its base.
    p.base_index = 2;
    p.base_term = 3;
    p.snapshot = Some(vec![10, 40]);
    p.log.drain(..2);
    file.save(&storage, &p, &Numbers, true).unwrap();
    assert_eq!(read(&storage, true).persistent, p);
    assert!(
        recover(&storage, "other.log", &Numbers, true)
            .unwrap()
            .is_none()
    );
}

/// A file whose last frame, `entry(2, 30)`, is cut off after `cut` of its bytes.
fn torn_at(cut: usize) -> (MemStorage, P, u64) {
    let storage = MemStorage::new();
    let mut p = empty();
    p.term = 2;
    p.log = vec![entry(1, 10), entry(2, 20)];
    let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
    let before = storage.contents("r.log").unwrap().len();
    p.log.push(entry(2, 30));
    file.save(&storage, &p, &Numbers, true).unwrap();
    let mut bytes = storage.contents("r.log").unwrap();
    bytes.truncate(before + cut);
    storage.set_contents("r.log", bytes);
    p.log.pop();
    (storage, p, before as u64)
}

#[test]
fn a_torn_tail_is_dropped_without_repair() {
    for cut in 1..40 {
        let (storage, p, offset) = torn_at(cut);
        let back = read(&storage, true);
        assert_eq!(back.persistent, p, "cut after {cut} bytes");
        assert_eq!(back.problem, Some(Problem::Torn { offset }));
        assert_eq!(back.persistent.repair, None);
    }
}

#[test]
fn the_broken_reader_takes_a_torn_entry_for_one() {
    let (storage, p, _) = torn_at(30);
    let back = read(&storage, false);
    let mut garbled = p.log.clone();
    garbled.push(LogEntry {
        term: 2,
        payload: None,
    });
    assert_eq!(
        back.persistent.log, garbled,
        "the torn entry, its payload lost"
    );
    // Cut inside the frame's header or index, there is nothing it could take.
    let (storage, p, _) = torn_at(12);
    assert_eq!(read(&storage, false).persistent.log, p.log);
}

#[test]
fn damage_keeps_the_prefix_repairs_and_still_reads_newer_hard_state() {
    let storage = MemStorage::new();
    let mut p = empty();
    p.term = 1;
    let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
    p.log = (0..6).map(|i| entry(1, i)).collect();
    file.save(&storage, &p, &Numbers, true).unwrap();
    p.term = 4;
    p.voted_for = Some(2);
    file.save(&storage, &p, &Numbers, true).unwrap();
    // Flip a bit inside the fourth entry's payload.
    let mut bytes = storage.contents("r.log").unwrap();
    let frames_start = HEADER_BYTES + FRAME_HEADER_BYTES + 34;
    let entry_frame = FRAME_HEADER_BYTES + ENTRY_HEAD_BYTES + 32;
    let damaged = frames_start + 3 * entry_frame;
    bytes[damaged + 20] ^= 0x08;
    storage.set_contents("r.log", bytes);
    let back = read(&storage, true);
    assert!(
        matches!(back.problem, Some(Problem::Damaged { offset, .. }) if offset == damaged as u64),
        "{:?}",
        back.problem
    );
    assert_eq!(back.persistent.log, p.log[..3].to_vec());
    assert_eq!(
        (back.persistent.term, back.persistent.voted_for),
        (4, Some(2))
    );
    assert_eq!(
        back.persistent.repair,
        Some((1, 6)),
        "up to the newest entry it held"
    );
}

#[test]
fn a_damaged_hard_state_never_takes_the_term_back_behind_an_entry() {
    let storage = MemStorage::new();
    let mut p = empty();
    p.term = 1;
    let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
    p.log = vec![entry(1, 1)];
    file.save(&storage, &p, &Numbers, true).unwrap();
    let before_state = storage.contents("r.log").unwrap().len();
    p.term = 4;
    p.voted_for = Some(1);
    file.save(&storage, &p, &Numbers, true).unwrap();
    p.log.push(entry(4, 2));
    p.log.push(entry(4, 3));
    file.save(&storage, &p, &Numbers, true).unwrap();
    // Flip a bit in the term-4 state frame's body: the hard state read back is term 1's.
    let mut bytes = storage.contents("r.log").unwrap();
    bytes[before_state + FRAME_HEADER_BYTES + 3] ^= 0x01;
    storage.set_contents("r.log", bytes);
    let back = read(&storage, true);
    assert!(
        matches!(back.problem, Some(Problem::Damaged { .. })),
        "{:?}",
        back.problem
    );
    assert_eq!(back.persistent.log, vec![entry(1, 1)]);
    assert_eq!(
        (back.persistent.term, back.persistent.voted_for),
        (4, None),
        "the term of the entries after the damage, no vote known in it"
    );
    assert_eq!(back.persistent.repair, Some((4, 3)));
}

#[test]
fn a_log_cut_short_without_an_append_reads_back_cut() {
    let storage = MemStorage::new();
    let mut p = empty();
    let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
    p.log = (0..5).map(|i| entry(1, i)).collect();
    file.save(&storage, &p, &Numbers, true).unwrap();
    p.log.truncate(2);
    file.save(&storage, &p, &Numbers, true).unwrap();
    let back = read(&storage, true);
    assert_eq!((back.persistent.log, back.problem), (p.log.clone(), None));
}

#[test]
fn a_damaged_header_is_an_error_naming_the_file() {
    let storage = MemStorage::new();
    LogFile::create(&storage, "r.log", &empty(), &Numbers).unwrap();
    let mut bytes = storage.contents("r.log").unwrap();
    bytes[9] ^= 1;
    storage.set_contents("r.log", bytes);
    let error = recover(&storage, "r.log", &Numbers, true).unwrap_err();
    assert_eq!((error.file.as_str(), error.offset), ("r.log", 0));
}

#[derive(Debug, Clone)]
enum Step {
    Append(u8),
    /// A newer leader replaces the last `n` entries.
    Replace(u8),
    Vote(Option<u8>),
    Compact,
    /// The last `n` entries dropped with nothing appended after them.
    Cut(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..4).prop_map(Step::Append),
        1 => (1u8..4).prop_map(Step::Replace),
        1 => proptest::option::of(0u8..3).prop_map(Step::Vote),
        1 => Just(Step::Compact),
        1 => (1u8..3).prop_map(Step::Cut),
    ]
}

fn apply(p: &mut P, step: &Step, counter: &mut u64) {
    match *step {
        Step::Append(n) => {
            for _ in 0..n {
                *counter += 1;
                p.log.push(entry(p.term.max(1), *counter));
            }
        }
        Step::Replace(n) => {
            // A newer leader's term: above every entry's (one entry per index and term).
            p.term = p.term.max(p.log.last().map_or(0, |e| e.term)) + 1;
            let keep = p.log.len().saturating_sub(n as usize);
            p.log.truncate(keep);
            *counter += 1;
            p.log.push(entry(p.term, *counter));
        }
        Step::Vote(v) => {
            p.term += 1;
            p.voted_for = v.map(usize::from);
        }
        Step::Compact if !p.log.is_empty() => {
            let count = p.log.len().div_ceil(2);
            p.base_term = p.log[count - 1].term;
            p.base_index += count as u64;
            let mut snapshot = p.snapshot.take().unwrap_or_default();
            snapshot.extend(p.log.drain(..count).filter_map(|e| e.payload));
            p.snapshot = Some(snapshot);
        }
        Step::Compact => {}
        Step::Cut(n) => {
            let keep = p.log.len().saturating_sub(n as usize);
            p.log.truncate(keep);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// After any sequence of appends, replacements, votes and compactions, a synced file
    /// reads back as exactly the replica's persistent state.
    #[test]
    fn any_history_reads_back(steps in proptest::collection::vec(step(), 1..40)) {
        let storage = MemStorage::new();
        let mut p = empty();
        let mut file = LogFile::create(&storage, "r.log", &p, &Numbers).unwrap();
        let mut counter = 0;
        for step in &steps {
            apply(&mut p, step, &mut counter);
            file.save(&storage, &p, &Numbers, true).unwrap();
            let back = read(&storage, true);
            prop_assert_eq!(back.problem, None);
            prop_assert_eq!(&back.persistent, &p);
        }
    }
}
