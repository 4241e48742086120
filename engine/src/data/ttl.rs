//! Time to Live: a table's TTL setting (attribute, status as a function of time) and its index
//! of items due for deletion, kept in step by `Table::apply` while TTL is on, so the sweep never
//! scans every item.

use crate::types::item::Item;
use crate::types::value::Value;
use std::collections::{BTreeMap, BTreeSet};

/// An item more than this far in the past is not deleted (dynamodb-facts §11: 5 years).
pub const EXPIRY_AGE_MS_MAX: u64 = 5 * 365 * 24 * 60 * 60 * 1000;

/// A table's TTL setting: the attribute, whether it is on, and when it last changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub attribute: String,
    pub enabled: bool,
    pub changed_ms: u64,
}

/// TimeToLiveStatus as a function of time: ENABLING (DISABLING) for `transition_ms` after a
/// change, then ENABLED (DISABLED).
pub fn status(setting: Option<&Setting>, now_ms: u64, transition_ms: u64) -> &'static str {
    match setting {
        None => "DISABLED",
        Some(s) => {
            let settled = now_ms >= s.changed_ms.saturating_add(transition_ms);
            match (s.enabled, settled) {
                (true, true) => "ENABLED",
                (true, false) => "ENABLING",
                (false, true) => "DISABLED",
                (false, false) => "DISABLING",
            }
        }
    }
}

/// The time (ms) from which `item` is expired under `attribute`: its top-level N value read as
/// epoch seconds (decimals and exponents allowed), the first millisecond strictly after it.
/// `None` for an absent attribute, another type, or a value before the epoch.
pub fn expiry_ms(item: &Item, attribute: &str) -> Option<u64> {
    let Some(Value::N(number)) = item.get(attribute) else {
        return None;
    };
    let seconds: f64 = number.render().parse().ok()?;
    if !(seconds.is_finite() && seconds >= 0.0) {
        return None;
    }
    let ms = (seconds * 1000.0).floor();
    // Past any clock a host passes in: never due.
    if ms >= u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(ms as u64 + 1)
}

/// Whether a TTL sweep may delete `item` at `now_ms` (its current version): the attribute is
/// an N in the past, and not more than five years in the past.
pub fn eligible(item: &Item, attribute: &str, now_ms: u64) -> bool {
    expiry_ms(item, attribute).is_some_and(|at| at <= now_ms && now_ms - at <= EXPIRY_AGE_MS_MAX)
}

/// Items due for TTL work, by time: each key is due once, either at its expiry (a delay still
/// to draw) or at its drawn deletion time.
#[derive(Clone, Debug, Default)]
pub struct DueIndex {
    by_time: BTreeSet<(u64, Box<[u8]>)>,
    by_key: BTreeMap<Box<[u8]>, Due>,
}

/// When a key is due, and whether that is its deletion time (the delay drawn) or its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub at_ms: u64,
    pub expiry_ms: u64,
    pub scheduled: bool,
}

impl DueIndex {
    /// Follows one item change: an unchanged expiry keeps its schedule, another one replaces it.
    pub fn track(&mut self, key: &[u8], new: Option<&Item>, attribute: &str, now_ms: u64) {
        let expiry = new.and_then(|i| expiry_ms(i, attribute));
        // Expired more than five years ago as of now: never deleted, so never indexed.
        let expiry = expiry.filter(|at| now_ms <= at.saturating_add(EXPIRY_AGE_MS_MAX));
        if let Some(due) = self.by_key.get(key) {
            if Some(due.expiry_ms) == expiry {
                return;
            }
            self.remove(key);
        }
        if let Some(expiry_ms) = expiry {
            self.insert(
                key,
                Due {
                    at_ms: expiry_ms,
                    expiry_ms,
                    scheduled: false,
                },
            );
        }
    }

    pub fn insert(&mut self, key: &[u8], due: Due) {
        self.remove(key);
        self.by_time.insert((due.at_ms, key.into()));
        self.by_key.insert(key.into(), due);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Due> {
        let due = self.by_key.remove(key)?;
        let removed = self.by_time.remove(&(due.at_ms, key.into()));
        debug_assert!(removed, "the two maps agree");
        Some(due)
    }

    /// The earliest time something is due.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// The first key due by `now_ms`, and its entry.
    pub fn first_due(&self, now_ms: u64) -> Option<(Box<[u8]>, Due)> {
        let (at, key) = self.by_time.first()?;
        (*at <= now_ms).then(|| (key.clone(), self.by_key[key]))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
