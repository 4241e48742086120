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

    /// (ours) A request scoped to another region than the one a `--data-dir` server keeps.
    pub(crate) fn region_not_durable(region: &str, durable: &str) -> Error {
        Error::new(
            ErrorKind::UnrecognizedClient,
            format!(
                "dynasim serve --data-dir keeps one region ({durable}); this request is scoped to {region}. Start the server with --region {region}, or without --data-dir; see docs/compatibility.md"
            ),
        )
    }

    /// (ours) Multi-Region strong consistency and witnesses, not implemented yet.
    pub(crate) fn strong_consistency_not_implemented() -> Error {
        Error::validation(
            "dynasim does not implement MultiRegionConsistency STRONG or GlobalTableWitnessUpdates yet; see docs/compatibility.md",
        )
    }
}
