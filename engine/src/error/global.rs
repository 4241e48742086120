//! Messages of global tables (version 2019.11.21): UpdateTable's ReplicaUpdates and what a
//! global table refuses (dynamodb-facts §10). Where no source gives the service's text the
//! message is ours and says what was wrong; `docs/compatibility.md` lists them.

use super::{Error, ErrorKind};

impl Error {
    /// (ours) MultiRegionConsistency without ReplicaUpdates (it is given when the table
    /// becomes global).
    pub(crate) fn replica_updates_required() -> Error {
        Error::validation(
            "One or more parameter values were invalid: MultiRegionConsistency can only be given with ReplicaUpdates that create the global table's replicas",
        )
    }

    /// (ours) A ReplicaUpdates entry with none, or more than one, of Create, Update, Delete.
    pub(crate) fn replica_update_not_one_action() -> Error {
        Error::validation(
            "One or more parameter values were invalid: Each ReplicaUpdates entry must contain exactly one of Create, Update or Delete",
        )
    }

    /// (ours) A replica action without RegionName.
    pub(crate) fn replica_region_missing() -> Error {
        Error::validation(
            "One or more parameter values were invalid: RegionName is required in a replica action",
        )
    }

    /// (ours) A region name that is not one of AWS's commercial regions.
    pub(crate) fn replica_region_invalid(region: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: {region} is not a valid region name"
        ))
    }

    /// (ours) One region named by two entries of one request.
    pub(crate) fn replica_region_twice(region: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Region {region} appears more than once in ReplicaUpdates"
        ))
    }

    /// (ours) ReplicaUpdates with other table changes in the same request.
    pub(crate) fn replica_updates_combined() -> Error {
        Error::validation(
            "One or more parameter values were invalid: ReplicaUpdates cannot be combined with other table updates in one UpdateTable request",
        )
    }

    /// (obs?) Create naming the region the request is made in.
    pub(crate) fn replica_in_own_region(region: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Cannot add a replica in {region}: the table is in this region already"
        ))
    }

    /// (obs?) Create naming a region that already holds a replica, or a table of that name.
    pub(crate) fn replica_already_exists(table: &str, region: &str) -> Error {
        Error::validation(format!(
            "Failed to create a the new replica of table with name: '{table}' because one or more replicas already existed as tables. Region: {region}"
        ))
    }

    /// (ours) Update or Delete naming a region without a replica of the table.
    pub(crate) fn replica_not_found(table: &str, region: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Table {table} has no replica in {region}"
        ))
    }

    /// (ours) Delete naming the region the request is made in (DeleteTable removes it).
    pub(crate) fn replica_delete_own_region(region: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Cannot delete the replica in {region} with ReplicaUpdates from {region}; use DeleteTable in that region"
        ))
    }

    /// (obs?, dynamodb-facts §10.1) A replica of a table whose stream has another view type
    /// (replication reads NEW_AND_OLD_IMAGES records).
    pub(crate) fn replica_stream_view_type(table: &str, view_type: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Table {table} has a stream with StreamViewType {view_type}; a global table needs NEW_AND_OLD_IMAGES"
        ))
    }

    /// (ours) Disabling or changing the stream of a table that has replicas.
    pub(crate) fn replica_stream_change(table: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: The stream of table {table} cannot be disabled or changed while it has replicas"
        ))
    }

    /// (doc: a replica's table in another region is busy) A replica not ACTIVE when the
    /// global table is changed.
    pub(crate) fn replica_in_use(table: &str, region: &str, status: &str) -> Error {
        Error::new(
            ErrorKind::ResourceInUse,
            format!(
                "Attempt to change a resource which is still in use: Replica of table {table} in {region} is {status}"
            ),
        )
    }

    /// (ours) Global tables under `serve --data-dir` (replication state is not persisted).
    pub(crate) fn replicas_not_durable() -> Error {
        Error::new(
            ErrorKind::Validation,
            "dynasim does not implement global tables with --data-dir yet (replication is not persisted); see docs/compatibility.md",
        )
    }

    /// (ours) A request scoped to a region past the number one host makes engines for.
    pub(crate) fn regions_exhausted(region: &str, max: usize) -> Error {
        Error::new(
            ErrorKind::UnrecognizedClient,
            format!(
                "dynasim serve hosts at most {max} regions; this request is scoped to another one ({region})"
            ),
        )
    }

    /// (ours) A request scoped to another region than the one a `--data-dir` server keeps.
    pub(crate) fn region_not_durable(region: &str, durable: &str) -> Error {
        Error::new(
            ErrorKind::UnrecognizedClient,
            format!(
                "dynasim serve --data-dir keeps one region ({durable}); this request is scoped to {region}. Start the server with --region {region}, or without --data-dir; see docs/compatibility.md"
            ),
        )
    }

    /// (doc: API reference, ReplicatedWriteConflictException) A write to an item of a
    /// multi-Region strongly consistent table that another region is modifying.
    pub(crate) fn replicated_write_conflict() -> Error {
        Error::new(
            ErrorKind::ReplicatedWriteConflict,
            "The request was rejected because one or more items in the request are being modified by a request in another Region.",
        )
    }

    /// (ours; doc: MultiRegionConsistency is set in the request that creates the global
    /// table) STRONG asked of a table that has replicas already, or EVENTUAL of an MRSC one.
    pub(crate) fn consistency_fixed(table: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: MultiRegionConsistency of table {table} is set when its replicas are created and cannot be changed"
        ))
    }

    /// (ours; doc: three regions, or two and a witness) An MRSC table of another shape.
    pub(crate) fn strong_needs_three_regions() -> Error {
        Error::validation(
            "One or more parameter values were invalid: A table with MultiRegionConsistency STRONG needs exactly three regions: two new replicas, or one new replica and a witness",
        )
    }

    /// (ours; doc: the region sets of CreateGlobalTableWitnessGroupMemberAction) Regions of
    /// an MRSC table from more than one region set.
    pub(crate) fn strong_region_set(regions: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: The regions of a table with MultiRegionConsistency STRONG must be in one region set (US: us-east-1, us-east-2, us-west-2; EU: eu-west-1, eu-west-2, eu-west-3, eu-central-1; AP: ap-northeast-1, ap-northeast-2, ap-northeast-3): {regions}"
        ))
    }

    /// (doc: AWS's MRSC example: the table must be empty) Converting a table with items.
    pub(crate) fn strong_table_not_empty(table: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Table {table} must be empty to become a global table with MultiRegionConsistency STRONG"
        ))
    }

    /// (obs?, dynamodb-facts §10.2: reported restrictions) What an MRSC table does not support:
    /// local secondary indexes, Time to Live, transactions, replicas added later.
    pub(crate) fn strong_unsupported(table: &str, what: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: {what} is not supported for table {table}, which has MultiRegionConsistency STRONG"
        ))
    }

    /// (ours; doc: removing the witness needs removing a replica too) Deleting part of an MRSC
    /// table's regions, leaving it with two.
    pub(crate) fn strong_partial_delete(table: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Replicas and the witness of table {table} (MultiRegionConsistency STRONG) can only be removed together, leaving a single-region table"
        ))
    }

    /// (ours) A witness update of a table without MultiRegionConsistency STRONG, or a witness
    /// entry with no region or both actions.
    pub(crate) fn witness_update_invalid(why: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: GlobalTableWitnessUpdates: {why}"
        ))
    }
}
