//! The catalog: tables by name and by ARN, as the control and data planes look them up.

use crate::data::stream::Stream;
use crate::data::table::Table;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

impl Engine {
    pub(crate) fn named_table(&self, table_name: &Option<String>) -> Result<&Table> {
        let mut errors = ConstraintErrors::new();
        errors.table_name(table_name, true);
        let name = table_name_of(errors.into_result_with(table_name.as_deref())?);
        self.tables
            .get(name)
            .ok_or_else(|| Error::table_not_found(name))
    }

    /// The table an ARN names. Malformed ARNs are validation errors, well-formed ones of
    /// missing tables are not found (obs).
    pub(crate) fn table_by_arn(&mut self, arn: &Option<String>) -> Result<&mut Table> {
        let Some(arn) = arn else {
            return Err(Error::resource_arn_missing());
        };
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.config.region, self.config.account_id
        );
        let rest = arn.strip_prefix(&prefix);
        if rest.is_some_and(|r| r.contains("/index/")) {
            return Err(Error::index_arn_not_taggable(arn));
        }
        let Some(name) = rest.filter(|n| !n.is_empty() && !n.contains('/')) else {
            if arn.starts_with("arn:aws:dynamodb:") && arn.contains(":table/") {
                return Err(Error::resource_arn_not_found(arn));
            }
            return Err(Error::table_arn_invalid(arn));
        };
        let name = name.to_string();
        self.tables
            .get_mut(&name)
            .ok_or_else(|| Error::resource_arn_not_found(arn))
    }
}

impl Engine {
    /// Every stream within its retention, of existing and of deleted tables, brought up to
    /// `now_ms` (rolled over, trimmed, expired ones forgotten).
    pub(crate) fn advance_streams(&mut self, now_ms: u64) {
        self.expire_deleted_tables(now_ms);
        let limits = &self.config.limits;
        for table in self.tables.values_mut() {
            table.advance_streams(now_ms, limits);
        }
        for stream in &mut self.retired_streams {
            stream.advance(now_ms, limits);
        }
    }

    /// All streams, of existing tables and then of deleted ones (call `advance_streams` first).
    pub(crate) fn all_streams(&self) -> impl Iterator<Item = &Stream> {
        self.tables
            .values()
            .flat_map(|t| t.streams().iter())
            .chain(self.retired_streams.iter())
    }

    /// The latest label time among the retired streams of the table `table_arn` (a deleted
    /// table of that name): a new stream of the name labels after it.
    pub(crate) fn stream_label_floor(&self, table_arn: &str) -> Option<u64> {
        let prefix = format!("{table_arn}/stream/");
        self.retired_streams
            .iter()
            .filter(|s| s.arn.starts_with(&prefix))
            .map(|s| s.label_ms)
            .max()
    }

    /// The stream `arn` names, as of `now_ms`: a malformed ARN is a validation error, a
    /// well-formed one of no stream this endpoint knows is not found (obs).
    pub(crate) fn stream_at(&mut self, arn: &str, now_ms: u64) -> Result<&Stream> {
        let well_formed = arn
            .strip_prefix("arn:aws:dynamodb:")
            .and_then(|rest| rest.split_once(":table/"))
            .and_then(|(_, rest)| rest.split_once("/stream/"))
            .is_some_and(|(table, label)| !table.is_empty() && !label.is_empty());
        if !well_formed {
            return Err(Error::stream_arn_invalid());
        }
        // Only the named stream is brought up to now (and its table's expired ones dropped).
        self.expire_deleted_tables(now_ms);
        let limits = &self.config.limits;
        for table in self.tables.values_mut() {
            if table.streams().iter().any(|s| s.arn == arn) {
                table.advance_streams(now_ms, limits);
            }
        }
        for stream in self.retired_streams.iter_mut().filter(|s| s.arn == arn) {
            stream.advance(now_ms, limits);
        }
        self.all_streams()
            .find(|s| s.arn == arn)
            .ok_or_else(|| Error::stream_not_found(arn))
    }
}
