//! Capacity unit math and the ConsumedCapacity member (`dynamodb-facts.md` §6.1–6.2).

use crate::api::{Capacity, ConsumedCapacity};
use crate::limits::{READ_UNIT_BYTES, WRITE_UNIT_BYTES};

/// Read units for `size_bytes` read at once: 4 KB units, at least one; eventually consistent
/// reads cost half.
pub fn read_units(size_bytes: usize, consistent: bool) -> f64 {
    let units = size_bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for an item of `size_bytes`: 1 KB units, at least one.
pub fn write_units(size_bytes: usize) -> f64 {
    size_bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnConsumedCapacity {
    None,
    Total,
    Indexes,
}

impl ReturnConsumedCapacity {
    pub fn parse(value: Option<&str>) -> ReturnConsumedCapacity {
        match value {
            Some("TOTAL") => ReturnConsumedCapacity::Total,
            Some("INDEXES") => ReturnConsumedCapacity::Indexes,
            _ => ReturnConsumedCapacity::None,
        }
    }

    /// The ConsumedCapacity member for `units` on `table_name`, if one was asked for.
    pub fn report(self, table_name: &str, units: f64, is_read: bool) -> Option<ConsumedCapacity> {
        let split = |units: f64| {
            if is_read {
                (Some(units), None)
            } else {
                (None, Some(units))
            }
        };
        match self {
            ReturnConsumedCapacity::None => None,
            ReturnConsumedCapacity::Total => Some(ConsumedCapacity {
                table_name: table_name.to_string(),
                capacity_units: units,
                read_capacity_units: None,
                write_capacity_units: None,
                table: None,
                local_secondary_indexes: None,
                global_secondary_indexes: None,
            }),
            ReturnConsumedCapacity::Indexes => {
                let (read, write) = split(units);
                Some(ConsumedCapacity {
                    table_name: table_name.to_string(),
                    capacity_units: units,
                    read_capacity_units: read,
                    write_capacity_units: write,
                    table: Some(Capacity {
                        capacity_units: units,
                        read_capacity_units: read,
                        write_capacity_units: write,
                    }),
                    local_secondary_indexes: None,
                    global_secondary_indexes: None,
                })
            }
        }
    }
}

/// The index a Query or Scan read, and the units read from it (the rest of the read's units,
/// an LSI's fetches of non-projected attributes, are the table's).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexRead {
    pub name: String,
    pub global: bool,
    pub units: f64,
}

impl ReturnConsumedCapacity {
    /// The ConsumedCapacity of a Query or Scan of `units` in all: with INDEXES, a read of an
    /// index reports the index's units under `GlobalSecondaryIndexes` or
    /// `LocalSecondaryIndexes` and what is left (0 unless an LSI read fetched from the table)
    /// under `Table` (`docs/compatibility.md`).
    pub fn report_read(
        self,
        table_name: &str,
        units: f64,
        index: Option<&IndexRead>,
    ) -> Option<ConsumedCapacity> {
        let mut consumed = self.report(table_name, units, true)?;
        let (Some(index), ReturnConsumedCapacity::Indexes) = (index, self) else {
            return Some(consumed);
        };
        let capacity = |units: f64| Capacity {
            capacity_units: units,
            read_capacity_units: Some(units),
            write_capacity_units: None,
        };
        consumed.table = Some(capacity(units - index.units));
        let map = std::collections::BTreeMap::from([(index.name.clone(), capacity(index.units))]);
        if index.global {
            consumed.global_secondary_indexes = Some(map);
        } else {
            consumed.local_secondary_indexes = Some(map);
        }
        Some(consumed)
    }

    /// The ConsumedCapacity of a write that also wrote to indexes: the total includes them
    /// and INDEXES mode breaks them down.
    pub fn report_write(
        self,
        table_name: &str,
        table_units: f64,
        index_writes: &crate::data::index::IndexWrites,
    ) -> Option<ConsumedCapacity> {
        let index_units: f64 = index_writes.iter().map(|w| w.units).sum();
        let mut consumed = self.report(table_name, table_units + index_units, false)?;
        if self == ReturnConsumedCapacity::Indexes {
            let capacity = |units: f64| Capacity {
                capacity_units: units,
                read_capacity_units: None,
                write_capacity_units: Some(units),
            };
            consumed.table = Some(capacity(table_units));
            let pick = |global: bool| {
                let map: std::collections::BTreeMap<String, Capacity> = index_writes
                    .iter()
                    .filter(|w| w.global == global)
                    .map(|w| (w.index.clone(), capacity(w.units)))
                    .collect();
                (!map.is_empty()).then_some(map)
            };
            consumed.global_secondary_indexes = pick(true);
            consumed.local_secondary_indexes = pick(false);
        }
        Some(consumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_math_matches_the_documented_examples() {
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(8192, false), 1.0);
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(0), 1.0);
        // Query sums then rounds: 10 items totalling 40.8 KB cost 11 RCU (doc).
        assert_eq!(read_units((40.8 * 1024.0) as usize, true), 11.0);
    }
}
