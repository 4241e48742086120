use super::*;
use crate::types::keys::{KeyAttribute, KeySchema, ScalarType};
use crate::types::value::Value;

const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/t";
const T0: u64 = 1_796_169_600_000;

fn schema() -> KeySchema {
    KeySchema {
        hash: KeyAttribute {
            name: "pk".into(),
            scalar_type: ScalarType::S,
        },
        range: None,
    }
}

fn item(pk: &str, v: i64) -> Item {
    [
        ("pk".to_string(), Value::S(pk.into())),
        (
            "v".to_string(),
            Value::N(crate::types::number::Number::from_i64(v)),
        ),
    ]
    .into_iter()
    .collect()
}

fn stream_with(view: ViewType, partitions: &[u64], limits: &Limits) -> Stream {
    let rollover = limits.stream_shard_rollover_ms;
    let partitions = partitions.iter().copied();
    Stream::new(ARN, "t", &schema(), view, partitions, T0, T0, T0, rollover)
}

fn stream(view: ViewType, partitions: &[u64]) -> Stream {
    stream_with(view, partitions, &Limits::default())
}

fn sequences(shard: &Shard) -> Vec<u64> {
    shard.records_from(0).map(|r| r.sequence).collect()
}

#[test]
fn one_record_per_change_and_none_for_a_change_that_changes_nothing() {
    let limits = Limits::default();
    let mut s = stream(ViewType::NewAndOldImages, &[0]);
    let (a1, a2) = (item("a", 1), item("a", 2));
    s.append(0, None, Some(&a1), Origin::Request, T0, &limits);
    s.append(0, Some(&a1), Some(&a1), Origin::Request, T0 + 1, &limits);
    s.append(0, Some(&a1), Some(&a2), Origin::Request, T0 + 2, &limits);
    s.append(0, None, None, Origin::Request, T0 + 3, &limits);
    s.append(0, Some(&a2), None, Origin::TimeToLive, T0 + 4, &limits);
    s.append(0, None, Some(&a1), Origin::Storage, T0 + 5, &limits);
    let shard = &s.shards()[0];
    let events: Vec<(EventName, bool)> =
        shard.records_from(0).map(|r| (r.event, r.by_ttl)).collect();
    assert_eq!(
        events,
        [
            (EventName::Insert, false),
            (EventName::Modify, false),
            (EventName::Remove, true)
        ]
    );
    let modify = shard.records_from(0).nth(1).unwrap();
    assert_eq!(modify.old_image(), Some(a1.clone()));
    assert_eq!(modify.new_image(), Some(a2.clone()));
    assert_eq!(modify.keys(), schema().key_of(&a1));
    let seqs = sequences(shard);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] > shard.starting);
}

#[test]
fn each_view_type_keeps_its_images() {
    let limits = Limits::default();
    let (a1, a2) = (item("a", 1), item("a", 2));
    for (view, new, old) in [
        (ViewType::KeysOnly, false, false),
        (ViewType::NewImage, true, false),
        (ViewType::OldImage, false, true),
        (ViewType::NewAndOldImages, true, true),
    ] {
        let mut s = stream(view, &[0]);
        s.append(0, Some(&a1), Some(&a2), Origin::Request, T0, &limits);
        let r = s.shards()[0].records_from(0).next().unwrap();
        assert_eq!(r.new_image().is_some(), new, "{view:?}");
        assert_eq!(r.old_image().is_some(), old, "{view:?}");
        assert_eq!(r.keys(), schema().key_of(&a1));
        let expected: usize = [
            Some(&r.keys()),
            r.new_image().as_ref(),
            r.old_image().as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(item_size_bytes)
        .sum();
        assert_eq!(r.size_bytes, expected as u64);
    }
}

#[test]
fn a_split_closes_the_parent_and_opens_two_children_with_later_numbers() {
    let limits = Limits::default();
    let mut s = stream(ViewType::KeysOnly, &[0, 1]);
    let a = item("a", 1);
    s.append(0, None, Some(&a), Origin::Request, T0, &limits);
    s.split(0, 2, T0 + 10, &limits);
    s.append(2, Some(&a), None, Origin::Request, T0 + 20, &limits);
    let shards = s.shards();
    assert_eq!(shards.len(), 4);
    let parent = &shards[0];
    assert_eq!(parent.ending, parent.last_sequence());
    let children: Vec<&Shard> = shards
        .iter()
        .filter(|c| c.parent.as_deref() == Some(&parent.id))
        .collect();
    assert_eq!(children.len(), 2);
    for child in &children {
        assert!(child.is_open());
        assert!(child.starting > parent.ending.unwrap());
    }
    assert!(
        shards[1].is_open() && shards[1].parent.is_none(),
        "partition 1's shard is untouched"
    );
    assert_eq!(
        sequences(children[1]).len(),
        1,
        "the upper half's record is in its shard"
    );
}

#[test]
fn open_shards_roll_over_at_fixed_times_whenever_that_is_noticed() {
    let limits = Limits {
        stream_shard_rollover_ms: 1000,
        ..Limits::default()
    };
    let a = item("a", 1);
    // Noticed at every boundary, or only once much later: the same shards.
    let mut often = stream_with(ViewType::KeysOnly, &[0], &limits);
    for t in 1..=35 {
        often.advance(T0 + t * 100, &limits);
    }
    let mut once = stream_with(ViewType::KeysOnly, &[0], &limits);
    once.advance(T0 + 3500, &limits);
    let ids = |s: &Stream| {
        s.shards()
            .iter()
            .map(|x| (x.id.clone(), x.parent.clone(), x.starting, x.ending))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&often), ids(&once));
    assert_eq!(
        once.shards().len(),
        4,
        "closed at 1 s, 2 s and 3 s, one open"
    );
    assert_eq!(once.next_due_ms(), Some(T0 + 4000));
    once.append(0, None, Some(&a), Origin::Request, T0 + 3600, &limits);
    let open: Vec<&Shard> = once.shards().iter().filter(|x| x.is_open()).collect();
    assert_eq!(open.len(), 1);
    assert_eq!(sequences(open[0]).len(), 1);
}

#[test]
fn records_leave_after_the_retention_and_empty_closed_shards_with_them() {
    let limits = Limits {
        stream_retention_ms: 10_000,
        stream_shard_rollover_ms: 4_000,
        ..Limits::default()
    };
    let a = item("a", 1);
    let mut s = stream_with(ViewType::KeysOnly, &[0], &limits);
    s.append(0, None, Some(&a), Origin::Request, T0 + 1000, &limits);
    let first = s.shards()[0].id.clone();
    s.advance(T0 + 10_999, &limits);
    assert_eq!(
        s.shard(&first).unwrap().records_from(0).count(),
        1,
        "not yet"
    );
    s.advance(T0 + 11_000, &limits);
    let shard = s.shard(&first).unwrap();
    assert_eq!(shard.records_from(0).count(), 0, "trimmed at 10 s");
    assert!(shard.trimmed_at(shard.starting + 1));
    // The first shard closed at 4 s: with its records gone, it goes at 14 s.
    s.advance(T0 + 14_000, &limits);
    assert!(s.shard(&first).is_none());
    assert!(s.shards().iter().any(|x| x.is_open()));
}

#[test]
fn a_disabled_stream_closes_its_shards_records_nothing_and_expires() {
    let limits = Limits::default();
    let a = item("a", 1);
    let mut s = stream(ViewType::KeysOnly, &[0, 1]);
    s.append(1, None, Some(&a), Origin::Request, T0, &limits);
    s.disable(T0 + 5, 100, &limits);
    assert_eq!(s.status(T0 + 50), StreamStatus::Disabling);
    assert_eq!(s.status(T0 + 105), StreamStatus::Disabled);
    assert!(s.shards().iter().all(|x| !x.is_open()));
    s.append(1, Some(&a), None, Origin::Request, T0 + 6, &limits);
    assert_eq!(
        s.shards()
            .iter()
            .map(|x| x.records_from(0).count())
            .sum::<usize>(),
        1
    );
    assert!(!s.expired(T0 + 5 + limits.stream_retention_ms - 1, &limits));
    assert!(s.expired(T0 + 5 + limits.stream_retention_ms, &limits));
}

#[test]
fn sequence_numbers_render_as_21_digits_and_read_back() {
    assert_eq!(render_sequence(1), "100000000000000000001");
    assert_eq!(render_sequence(1).len(), 21);
    assert_eq!(parse_sequence(&render_sequence(123_456)), Some(123_456));
    assert_eq!(parse_sequence("000000000000000000001"), None);
    assert_eq!(
        parse_sequence("9999999999999999999999999999999999999999"),
        None
    );
}

#[test]
fn an_empty_closed_shard_is_drained_from_its_start() {
    // Review finding: a reader of an empty shard closed by a rollover was never told it ended.
    let limits = Limits {
        stream_shard_rollover_ms: 1000,
        ..Limits::default()
    };
    let mut s = stream_with(ViewType::KeysOnly, &[0], &limits);
    s.advance(T0 + 1000, &limits);
    let closed = &s.shards()[0];
    assert!(!closed.is_open());
    assert!(closed.drained_at(closed.starting));
    assert!(!s.shards()[1].drained_at(s.shards()[1].starting));
}

#[test]
fn rollovers_of_other_partitions_come_before_a_record() {
    // Review finding: a write to one partition must not take a sequence number before another
    // partition's due rollover opens its child.
    let limits = Limits {
        stream_shard_rollover_ms: 1000,
        ..Limits::default()
    };
    let a = item("a", 1);
    let run = |touch: bool| {
        let mut s = stream_with(ViewType::KeysOnly, &[0, 1], &limits);
        if touch {
            s.advance(T0 + 1000, &limits);
        }
        s.append(1, None, Some(&a), Origin::Request, T0 + 1500, &limits);
        s.shards()
            .iter()
            .map(|x| (x.id.clone(), x.starting, x.ending))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(false), run(true));
}
