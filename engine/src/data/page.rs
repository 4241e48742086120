//! Pages of a table or index: the stored-key range a key condition or scan segment selects,
//! and one page read over it in order, bounded by Limit and by 1 MB of data read before
//! filtering, with LastEvaluatedKey.

use crate::data::index::Index;
use crate::data::table::Table;
use crate::expr::eval::{evaluate, project};
use crate::expr::key_condition::{KeyCondition, SortCondition};
use crate::expr::{Comparator, ResolvedCondition};
use crate::limits::READ_UNIT_BYTES;
use crate::types::index_keys::IndexKeySchema;
use crate::types::item::{self, Item, item_size_bytes};
use crate::types::keys::{encode_sort_value, encode_terminated, prefix_end};
use crate::types::value::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Range of stored keys a query or scan walks.
pub(crate) struct KeyRange {
    pub(crate) lower: Bound<Vec<u8>>,
    pub(crate) upper: Bound<Vec<u8>>,
}

/// The stored-key range a key condition selects. Tables end stored keys with the raw sort
/// value; indexes (`terminated`) end it with a terminated sort value followed by the table key,
/// so every bound there covers all entries that start with the value's encoding. The values a
/// multi-attribute sort key's first attributes are equal to extend the partition prefix: the
/// condition on the last one used then selects within it, as on a single sort key.
pub(crate) fn sort_range(
    schema: &IndexKeySchema,
    condition: &KeyCondition,
    terminated: bool,
) -> KeyRange {
    let hash: Vec<&Value> = condition.hash.iter().collect();
    let mut prefix = schema.partition_prefix(&hash);
    if !condition.sort_prefix.is_empty() {
        assert!(terminated, "only index keys have multi-attribute sort keys");
    }
    for value in &condition.sort_prefix {
        encode_terminated(value, &mut prefix);
    }
    let partition_end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
    let encoded = |v: &Value| {
        let mut out = prefix.clone();
        if terminated {
            encode_terminated(v, &mut out);
        } else {
            encode_sort_value(v, &mut out);
        }
        out
    };
    // Everything at or below `v`, for an inclusive upper bound.
    let through = |v: &Value| {
        let start = encoded(v);
        if terminated {
            prefix_end(&start).map_or(Bound::Unbounded, Bound::Excluded)
        } else {
            Bound::Included(start)
        }
    };
    let (lower, upper) = match &condition.sort {
        None => (Bound::Included(prefix.clone()), partition_end),
        Some(SortCondition::Compare(comparator, v)) => match comparator {
            Comparator::Eq => (Bound::Included(encoded(v)), through(v)),
            Comparator::Lt => (Bound::Included(prefix.clone()), Bound::Excluded(encoded(v))),
            Comparator::Le => (Bound::Included(prefix.clone()), through(v)),
            Comparator::Gt => match through(v) {
                Bound::Included(e) => (Bound::Excluded(e), partition_end),
                Bound::Excluded(e) => (Bound::Included(e), partition_end),
                Bound::Unbounded => (Bound::Excluded(encoded(v)), Bound::Excluded(encoded(v))),
            },
            Comparator::Ge => (Bound::Included(encoded(v)), partition_end),
            Comparator::Ne => unreachable!("rejected by analyse_key_condition"),
        },
        Some(SortCondition::Between(low, high)) => (Bound::Included(encoded(low)), through(high)),
        Some(SortCondition::BeginsWith(v)) => {
            let mut start = prefix.clone();
            if terminated {
                encode_escaped_prefix(v, &mut start);
            } else {
                encode_sort_value(v, &mut start);
            }
            let end = prefix_end(&start).map_or(partition_end, Bound::Excluded);
            (Bound::Included(start), end)
        }
    };
    KeyRange { lower, upper }
}

/// The escaped bytes of a string or binary without the terminator: the common prefix of the
/// terminated encodings of every value that begins with it.
fn encode_escaped_prefix(value: &Value, out: &mut Vec<u8>) {
    let bytes = match value {
        Value::S(s) => s.as_bytes(),
        Value::B(b) => b.as_slice(),
        _ => unreachable!("begins_with takes strings and binaries"),
    };
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

pub(crate) fn contains(range: &KeyRange, key: &[u8]) -> bool {
    let above = match &range.lower {
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.upper {
        Bound::Included(u) => key <= u.as_slice(),
        Bound::Excluded(u) => key < u.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
    pub(crate) scanned: usize,
    pub(crate) last_evaluated_key: Option<Item>,
    pub(crate) read_bytes: usize,
    /// LSI reads that fetch from the table: each fetched item's size rounded up to 4 KB
    /// (one full-item read each, on top of the index read).
    pub(crate) fetched_bytes: usize,
}

/// How to read one page.
pub(crate) struct PageSpec<'a> {
    pub(crate) forward: bool,
    pub(crate) limit: Option<usize>,
    pub(crate) page_bytes: usize,
    pub(crate) filter: Option<&'a ResolvedCondition>,
    pub(crate) projection: Option<&'a [crate::expr::ResolvedPath]>,
    pub(crate) count_only: bool,
}

/// What a page reads: the table itself, or one of its indexes.
pub(crate) struct Source<'a> {
    pub(crate) table: &'a Table,
    pub(crate) index: Option<&'a Index>,
    /// Read whole items through the index: an LSI asked for attributes it does not project
    /// fetches them from the table, as DynamoDB does.
    pub(crate) fetch_from_table: bool,
    /// The replica an eventually consistent table read goes to (`None`: the leaders).
    pub(crate) zone: Option<usize>,
}

impl<'a> Source<'a> {
    /// The items whose stored (or index) keys fall within `range`, in order or reversed, as
    /// this source holds them (index reads see the projected item).
    fn items(&self, range: &'a KeyRange, forward: bool) -> Box<dyn Iterator<Item = Item> + 'a> {
        let lower = range.lower.as_ref().map(|v| v.as_slice());
        let upper = range.upper.as_ref().map(|v| v.as_slice());
        let table = self.table;
        let fetch_from_table = self.fetch_from_table;
        match (self.index, self.zone) {
            (None, Some(zone)) => {
                let entries = table
                    .partitions()
                    .range_at(zone, lower, upper)
                    .map(item::decode);
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
            (None, None) => {
                let entries = table
                    .partitions()
                    .range(lower, upper)
                    .map(|entry| item::decode(entry.item_bytes()));
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
            (Some(index), Some(zone)) if !index.global => {
                let view = stale_local_view(self, index, zone, (lower, upper));
                if forward {
                    Box::new(view.into_values())
                } else {
                    Box::new(view.into_values().rev())
                }
            }
            (Some(index), _) => {
                let resolve = move |table_key: &[u8]| {
                    let bytes = table
                        .partitions()
                        .get(table_key)
                        .expect("index entries point at stored items");
                    let item = item::decode(bytes);
                    if fetch_from_table {
                        item
                    } else {
                        index.project(&item, &table.key_schema)
                    }
                };
                if !index.pending.is_empty() {
                    let view = lagging_view(index, lower, upper, resolve);
                    return if forward {
                        Box::new(view.into_values())
                    } else {
                        Box::new(view.into_values().rev())
                    };
                }
                let entries = index
                    .entries
                    .range::<[u8], _>((lower, upper))
                    .map(move |(_, table_key)| resolve(table_key));
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
        }
    }

    /// LastEvaluatedKey: the table key, plus the index key for index reads.
    fn key_of(&self, item: &Item) -> Item {
        let mut key = self.table.key_schema.key_of(item);
        if let Some(index) = self.index {
            key.extend(index.key_schema.key_of(item));
        }
        key
    }
}

/// A local secondary index over a range as replica `zone` holds it: the index of the
/// replica's (possibly stale) items. The candidates are the items the current index holds
/// there and every item the replica has not caught up on; each is read as the replica holds
/// it and placed under its index key, if it has one within the range.
fn stale_local_view(
    source: &Source<'_>,
    index: &Index,
    zone: usize,
    (lower, upper): (Bound<&[u8]>, Bound<&[u8]>),
) -> BTreeMap<Box<[u8]>, Item> {
    let partitions = source.table.partitions();
    let mut candidates: std::collections::BTreeSet<&[u8]> = index
        .entries
        .range::<[u8], _>((lower, upper))
        .map(|(_, table_key)| &**table_key)
        .collect();
    candidates.extend(partitions.lagging_keys(zone));
    let mut view = BTreeMap::new();
    for table_key in candidates {
        let at = Bound::Included(table_key);
        let Some(bytes) = partitions.range_at(zone, at, at).next() else {
            continue;
        };
        let item = item::decode(bytes);
        let Some(key) = index.entry_key(&item, table_key) else {
            continue;
        };
        if !crate::data::store::within(&key, lower, upper) {
            continue;
        }
        let shown = if source.fetch_from_table {
            item
        } else {
            index.project(&item, &source.table.key_schema)
        };
        view.insert(key, shown);
    }
    view
}

/// What a lagging GSI shows over a range: the current entries with the changes readers
/// cannot see yet undone, newest first.
fn lagging_view(
    index: &Index,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    resolve: impl Fn(&[u8]) -> Item,
) -> BTreeMap<Box<[u8]>, Item> {
    let mut view: BTreeMap<Box<[u8]>, Item> = index
        .entries
        .range::<[u8], _>((lower, upper))
        .map(|(key, table_key)| (key.clone(), resolve(table_key)))
        .collect();
    for change in index.pending.iter().rev() {
        if let Some(added) = &change.added {
            view.remove(added);
        }
        if let Some((key, projected)) = &change.removed
            && crate::data::store::within(key, lower, upper)
        {
            view.insert(key.clone(), projected.clone());
        }
    }
    view
}

/// Walks `range` in order, evaluating at most `limit` items or `page_bytes` of data.
pub(crate) fn read_page(source: &Source<'_>, range: KeyRange, spec: &PageSpec<'_>) -> Page {
    let PageSpec {
        forward,
        limit,
        page_bytes,
        filter,
        projection,
        count_only,
    } = *spec;
    let mut page = Page {
        items: Vec::new(),
        scanned: 0,
        last_evaluated_key: None,
        read_bytes: 0,
        fetched_bytes: 0,
    };
    if is_empty_range(&range.lower, &range.upper) || limit == Some(0) {
        return page;
    }
    for decoded in source.items(&range, forward) {
        match source.index {
            Some(index) if source.fetch_from_table => {
                // The index entry is read, then the whole item from the table.
                let entry = index.project(&decoded, &source.table.key_schema);
                page.read_bytes += item_size_bytes(&entry);
                let size = item_size_bytes(&decoded).max(1);
                page.fetched_bytes += size.div_ceil(READ_UNIT_BYTES) * READ_UNIT_BYTES;
            }
            _ => page.read_bytes += item_size_bytes(&decoded),
        }
        page.scanned += 1;
        let stop = limit.is_some_and(|l| page.scanned >= l) || page.read_bytes >= page_bytes;
        if stop {
            page.last_evaluated_key = Some(source.key_of(&decoded));
        }
        if filter.is_none_or(|f| evaluate(f, &decoded)) {
            if count_only {
                page.items.push(Item::new());
            } else {
                page.items.push(match projection {
                    Some(paths) => project(&decoded, paths),
                    None => decoded,
                });
            }
        }
        if stop {
            break;
        }
    }
    page
}
