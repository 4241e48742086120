//! The control plane of global tables (version 2019.11.21): UpdateTable's `ReplicaUpdates`
//! (Create, Update, Delete, each checked before anything changes), the changes a replica's
//! region passes on to the others (throughput, billing mode, GSIs, Time to Live), DeleteTable
//! of a replica, and `Replicas` in every region's description of the table.

use super::regions::{GLOBAL_TABLE_VERSION, Regions};
use super::replication::{Group, Member};
use crate::api::*;
use crate::data::table::Status;
use crate::engine::table_name_of;
use crate::error::{ConstraintErrors, Error, Result, constraint};
use std::collections::{BTreeMap, BTreeSet};

/// The regions a replica can be added in: AWS's commercial, GovCloud and China regions.
pub const AWS_REGIONS: [&str; 40] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eusc-de-east-1",
    "ap-southeast-8",
];

/// Whether UpdateTable changes the replicas (or asks for multi-Region consistency).
pub(super) fn changes_replicas(input: &UpdateTableInput) -> bool {
    input.replica_updates.is_some()
        || input.multi_region_consistency.is_some()
        || input.global_table_witness_updates.is_some()
}

/// One checked replica action.
enum Action<'a> {
    Create(&'a str, &'a ReplicaAction),
    Update(&'a str, &'a ReplicaAction),
    Delete(&'a str),
}

/// The region sets an MRSC table's regions must all come from.
const STRONG_REGION_SETS: [&[&str]; 3] = [
    &["us-east-1", "us-east-2", "us-west-2"],
    &["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"],
    &["ap-northeast-1", "ap-northeast-2", "ap-northeast-3"],
];

/// One checked witness action: (create, region).
type Witness<'a> = Option<(bool, &'a str)>;

/// What UpdateTable asks of the replicas once its shape is checked.
struct Asked<'a> {
    name: &'a str,
    actions: Vec<Action<'a>>,
    consistency: Option<&'a str>,
    witness: Witness<'a>,
}

/// The witness update: at most one, with exactly one action naming a valid region.
fn check_witness(input: &UpdateTableInput) -> Result<Witness<'_>> {
    let Some(updates) = &input.global_table_witness_updates else {
        return Ok(None);
    };
    let [update] = updates.as_slice() else {
        return Err(Error::witness_update_invalid(
            "exactly one entry is allowed per request",
        ));
    };
    let (create, action) = match (&update.create, &update.delete) {
        (Some(a), None) => (true, a),
        (None, Some(a)) => (false, a),
        _ => {
            return Err(Error::witness_update_invalid(
                "an entry has exactly one of Create or Delete",
            ));
        }
    };
    let Some(region) = action.region_name.as_deref() else {
        return Err(Error::replica_region_missing());
    };
    if !AWS_REGIONS.contains(&region) {
        return Err(Error::replica_region_invalid(region));
    }
    Ok(Some((create, region)))
}

/// The shape checks: the table's name, the consistency asked, exactly one action per entry,
/// each with a valid region named once, and nothing else changed in the same request.
fn check_shape(input: &UpdateTableInput) -> Result<Asked<'_>> {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, true);
    errors.enumeration(
        &input.multi_region_consistency,
        "multiRegionConsistency",
        &["EVENTUAL", "STRONG"],
    );
    if input.replica_updates.as_ref().is_some_and(Vec::is_empty) {
        errors.push("'[]'", "replicaUpdates", &constraint::length_at_least(1));
    }
    let name = errors.into_result_with(input.table_name.as_deref())?;
    let witness = check_witness(input)?;
    let updates: &[ReplicationGroupUpdate] = match (&input.replica_updates, witness) {
        (Some(updates), _) => updates,
        (None, Some(_)) => &[],
        (None, None) => return Err(Error::replica_updates_required()),
    };
    let others = input.attribute_definitions.is_some()
        || input.billing_mode.is_some()
        || input.provisioned_throughput.is_some()
        || input.global_secondary_index_updates.is_some()
        || input.stream_specification.is_some()
        || input.sse_specification.is_some()
        || input.table_class.is_some()
        || input.deletion_protection_enabled.is_some();
    if others {
        return Err(Error::replica_updates_combined());
    }
    let mut seen = BTreeSet::new();
    let mut actions = Vec::new();
    for update in updates {
        let action = match (&update.create, &update.update, &update.delete) {
            (Some(a), None, None) => (a, 0),
            (None, Some(a), None) => (a, 1),
            (None, None, Some(a)) => (a, 2),
            _ => return Err(Error::replica_update_not_one_action()),
        };
        let Some(region) = action.0.region_name.as_deref() else {
            return Err(Error::replica_region_missing());
        };
        check_overrides(action.0)?;
        if !AWS_REGIONS.contains(&region) {
            return Err(Error::replica_region_invalid(region));
        }
        if !seen.insert(region) {
            return Err(Error::replica_region_twice(region));
        }
        actions.push(match action.1 {
            0 => Action::Create(region, action.0),
            1 => Action::Update(region, action.0),
            _ => Action::Delete(region),
        });
    }
    if let Some((_, region)) = witness
        && !seen.insert(region)
    {
        return Err(Error::replica_region_twice(region));
    }
    Ok(Asked {
        name,
        actions,
        consistency: input.multi_region_consistency.as_deref(),
        witness,
    })
}

/// A Create's or Update's overrides, checked before any action is applied.
fn check_overrides(action: &ReplicaAction) -> Result<()> {
    let mut errors = ConstraintErrors::new();
    if let Some(read) = action
        .provisioned_throughput_override
        .as_ref()
        .and_then(|o| o.read_capacity_units)
        && read < 1
    {
        errors.push(
            &read.to_string(),
            "provisionedThroughputOverride.readCapacityUnits",
            &constraint::value_at_least(1),
        );
    }
    errors.enumeration(
        &action.table_class_override,
        "tableClassOverride",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    errors.into_result()
}

/// Whether `regions` all come from one of the MRSC region sets.
fn one_region_set(regions: &[&str]) -> bool {
    STRONG_REGION_SETS
        .iter()
        .any(|set| regions.iter().all(|r| set.contains(r)))
}

impl Regions {
    /// UpdateTable with ReplicaUpdates, from `region`: checked whole, then applied in order.
    pub(super) fn update_replicas(
        &mut self,
        region: &str,
        input: &UpdateTableInput,
        now_ms: u64,
    ) -> Result<Response> {
        let asked = check_shape(input)?;
        let name = table_name_of(asked.name).to_string();
        if self.durable() {
            return Err(Error::replicas_not_durable());
        }
        self.check_table_ready(region, &name, now_ms)?;
        let group = self.group_of(region, &name);
        let strong = self.check_consistency(region, &name, group, &asked)?;
        for action in &asked.actions {
            self.check_action(region, &name, group, action)?;
        }
        let actions = asked.actions;
        for action in &actions {
            match action {
                Action::Create(target, create) => {
                    self.add_replica(region, &name, target, create, strong, now_ms)?
                }
                Action::Update(target, update) => {
                    self.update_replica(&name, target, update, now_ms)?
                }
                Action::Delete(target) => self.remove_replica(target, &name, now_ms, true)?,
            }
        }
        if let Some((create, witness)) = asked.witness
            && let Some(group) = self.group_of(region, &name)
            && let Some(group) = self.groups.get_mut(&group)
        {
            group.witness = create.then(|| witness.to_string());
        }
        let engine = self.engine_mut(region);
        let limits = engine.config().limits.clone();
        let table = engine
            .table(&name)
            .ok_or_else(|| Error::table_not_found(&name))?;
        let mut description = table.describe(now_ms, &limits);
        description.table_status = Status::Updating.name().into();
        Ok(Response::Table(Box::new(TableOutput {
            table_description: Some(description),
            table: None,
        })))
    }

    /// The multi-Region consistency rules; whether the table is (or becomes) MRSC. STRONG is
    /// set when the replicas are created: three regions (two new replicas, or one and a
    /// witness) of one region set, an empty table, no LSI, no Time to Live. An MRSC table gets
    /// no replica later, and loses its other regions only all at once.
    fn check_consistency(
        &self,
        region: &str,
        name: &str,
        group: Option<u64>,
        asked: &Asked<'_>,
    ) -> Result<bool> {
        let current = group.map(|g| &self.groups[&g]);
        match (asked.consistency, current) {
            (Some("STRONG"), Some(g)) if !g.strong => return Err(Error::consistency_fixed(name)),
            (Some("EVENTUAL"), Some(g)) if g.strong => return Err(Error::consistency_fixed(name)),
            _ => {}
        }
        let strong = asked.consistency == Some("STRONG") || current.is_some_and(|g| g.strong);
        if !strong {
            if asked.witness.is_some() {
                return Err(Error::witness_update_invalid(
                    "only a table with MultiRegionConsistency STRONG has a witness",
                ));
            }
            return Ok(false);
        }
        match current {
            None => self.check_new_strong(region, name, asked)?,
            Some(g) => check_strong_removal(name, g, asked)?,
        }
        Ok(true)
    }

    /// A table becoming MRSC.
    fn check_new_strong(&self, region: &str, name: &str, asked: &Asked<'_>) -> Result<()> {
        let mut regions = vec![region];
        for action in &asked.actions {
            match action {
                Action::Create(target, _) => regions.push(target),
                _ => return Err(Error::strong_needs_three_regions()),
            }
        }
        match asked.witness {
            Some((true, witness)) => regions.push(witness),
            Some((false, _)) => return Err(Error::strong_needs_three_regions()),
            None => {}
        }
        if regions.len() != 3 {
            return Err(Error::strong_needs_three_regions());
        }
        if !one_region_set(&regions) {
            return Err(Error::strong_region_set(&regions.join(", ")));
        }
        let table = self.engines[region]
            .table(name)
            .ok_or_else(|| Error::table_not_found(name))?;
        if !table.partitions().is_empty() {
            return Err(Error::strong_table_not_empty(name));
        }
        if table.indexes().iter().any(|i| !i.global) {
            return Err(Error::strong_unsupported(name, "A local secondary index"));
        }
        if table.ttl_setting().is_some_and(|s| s.enabled) {
            return Err(Error::strong_unsupported(name, "Time to Live"));
        }
        Ok(())
    }

    /// The table exists in `region` and it, and every replica of it, is ACTIVE.
    fn check_table_ready(&mut self, region: &str, name: &str, now_ms: u64) -> Result<()> {
        let engine = self.engine_mut(region);
        let limits = engine.config().limits.clone();
        let table = engine
            .table(name)
            .ok_or_else(|| Error::table_not_found(name))?;
        match table.status(now_ms, &limits) {
            Status::Active => {}
            Status::Creating => return Err(Error::table_in_use("created", name)),
            Status::Deleting => return Err(Error::table_in_use("deleted", name)),
            _ => return Err(Error::table_in_use("updated", name)),
        }
        let Some(group) = self.group_of(region, name) else {
            return Ok(());
        };
        for other in self.groups[&group].members.keys() {
            let engine = &self.engines[other];
            let status = engine
                .table(name)
                .map(|t| t.status(now_ms, &engine.config().limits));
            if let Some(status) = status.filter(|s| *s != Status::Active) {
                return Err(Error::replica_in_use(name, other, status.name()));
            }
        }
        Ok(())
    }

    fn check_action(
        &mut self,
        region: &str,
        name: &str,
        group: Option<u64>,
        action: &Action<'_>,
    ) -> Result<()> {
        let member =
            |target: &str| group.is_some_and(|g| self.groups[&g].members.contains_key(target));
        match *action {
            Action::Create(target, _) => {
                if target == region {
                    return Err(Error::replica_in_own_region(region));
                }
                if group.is_some_and(|g| self.replication.from_region(g, target)) {
                    return Err(Error::replica_in_use(name, target, "DELETING"));
                }
                let exists = self.engine(target).is_some_and(|e| e.table(name).is_some());
                if member(target) || exists {
                    return Err(Error::replica_already_exists(name, target));
                }
                let table = self.engines[region]
                    .table(name)
                    .ok_or_else(|| Error::table_not_found(name))?;
                if let Some(stream) = table.enabled_stream()
                    && stream.view_type.name() != "NEW_AND_OLD_IMAGES"
                {
                    return Err(Error::replica_stream_view_type(
                        name,
                        stream.view_type.name(),
                    ));
                }
            }
            Action::Update(target, _) if !member(target) && target != region => {
                return Err(Error::replica_not_found(name, target));
            }
            Action::Update(..) => {}
            Action::Delete(target) => {
                if target == region {
                    return Err(Error::replica_delete_own_region(region));
                }
                if !member(target) {
                    return Err(Error::replica_not_found(name, target));
                }
                let protected = self.engines[target]
                    .table(name)
                    .is_some_and(|t| t.deletion_protection);
                if protected {
                    return Err(Error::table_deletion_protected());
                }
            }
        }
        Ok(())
    }

    /// Adds a replica of `region`'s table `name` in `target`: the table made there like this
    /// one (with a NEW_AND_OLD_IMAGES stream, enabled here too if it was not), this one's
    /// items copied, its Time to Live setting, and the versions of its items.
    fn add_replica(
        &mut self,
        region: &str,
        name: &str,
        target: &str,
        action: &ReplicaAction,
        strong: bool,
        now_ms: u64,
    ) -> Result<()> {
        let stream_missing = self.engines[region]
            .table(name)
            .is_some_and(|t| t.enabled_stream().is_none());
        // Replication reads the stream; an MRSC table's regions write synchronously instead.
        if stream_missing && !strong {
            let enable = UpdateTableInput {
                table_name: Some(name.to_string()),
                stream_specification: Some(new_and_old_images()),
                ..UpdateTableInput::default()
            };
            self.engine_mut(region)
                .execute(Request::UpdateTable(enable), now_ms)?;
        }
        let source = &self.engines[region];
        let limits = source.config().limits.clone();
        let table = source
            .table(name)
            .ok_or_else(|| Error::table_not_found(name))?;
        let description = table.describe(now_ms, &limits);
        let ttl = table
            .ttl_setting()
            .filter(|s| s.enabled)
            .map(|s| s.attribute.clone());
        let items = source.stored_items(name)?;
        let stream = (!strong || !stream_missing).then(new_and_old_images);
        let create = create_input_of(&description, action, stream);
        let engine = self.engine_mut(target);
        engine.execute(Request::CreateTable(create), now_ms)?;
        for (key, item) in &items {
            engine.restore_item(name, key, Some(item), now_ms)?;
        }
        if let Some(attribute) = ttl {
            engine.execute(
                Request::UpdateTimeToLive(ttl_input(name, &attribute, true)),
                now_ms,
            )?;
        }
        engine.enable_journal();
        engine.discard_changes();
        let creating_until = now_ms + engine.config().limits.table_creating_ms;
        let source = self.engine_mut(region);
        source.enable_journal();
        source.set_table_updating_until(name, creating_until);
        self.join_group(region, name, target, action, strong);
        Ok(())
    }

    /// Makes `target` a member of `region`'s global table `name` (a group made if this is
    /// the table's first replica), its versions copied from `region`'s.
    fn join_group(
        &mut self,
        region: &str,
        name: &str,
        target: &str,
        action: &ReplicaAction,
        strong: bool,
    ) {
        let id = match self.group_of(region, name) {
            Some(id) => id,
            None => {
                let bug = self.replication.bug;
                let me = self.region_id(region);
                let mut members = BTreeMap::new();
                members.insert(
                    region.to_string(),
                    member_of(super::lww::Replica::new(me, bug)),
                );
                let id = self.new_group(Group {
                    name: name.to_string(),
                    members,
                    latency: BTreeMap::new(),
                    strong,
                    witness: None,
                    remote: BTreeMap::new(),
                    log: Vec::new(),
                });
                self.membership
                    .insert((region.to_string(), name.to_string()), id);
                id
            }
        };
        let target_id = self.region_id(target);
        let group = self.groups.get_mut(&id).expect("made above");
        let mut joined = member_of(group.members[region].versions.copy_for(target_id));
        joined.read_override = action
            .provisioned_throughput_override
            .as_ref()
            .and_then(|o| o.read_capacity_units);
        joined.table_class_override = action.table_class_override.clone();
        group.members.insert(target.to_string(), joined);
        self.replication.copy_in_flight(id, region, target);
        self.membership
            .insert((target.to_string(), name.to_string()), id);
    }

    /// A replica's Update action: its read capacity and table class overrides, recorded and
    /// applied to its table.
    fn update_replica(
        &mut self,
        name: &str,
        target: &str,
        action: &ReplicaAction,
        now_ms: u64,
    ) -> Result<()> {
        let read = action
            .provisioned_throughput_override
            .as_ref()
            .and_then(|o| o.read_capacity_units);
        let engine = self.engine_mut(target);
        let table = engine.table(name).expect("a member's table");
        let mut update = UpdateTableInput {
            table_name: Some(name.to_string()),
            ..UpdateTableInput::default()
        };
        if let Some(read) = read
            && table.billing_mode.name() == "PROVISIONED"
            && read as u64 != table.throughput.read_capacity_units
        {
            update.provisioned_throughput = Some(ProvisionedThroughputInput {
                read_capacity_units: Some(read),
                write_capacity_units: Some(table.throughput.write_capacity_units as i64),
            });
        }
        if let Some(class) = &action.table_class_override
            && *class != table.table_class
        {
            update.table_class = Some(class.clone());
        }
        if update.provisioned_throughput.is_some() || update.table_class.is_some() {
            engine.execute(Request::UpdateTable(update), now_ms)?;
        }
        if let Some(group) = self.group_of(target, name)
            && let Some(member) = self
                .groups
                .get_mut(&group)
                .and_then(|g| g.members.get_mut(target))
        {
            if read.is_some() {
                member.read_override = read;
            }
            if action.table_class_override.is_some() {
                member.table_class_override = action.table_class_override.clone();
            }
        }
        Ok(())
    }

    /// Removes `region`'s replica of `name` from its global table (deleting the table there
    /// when `delete_table`: a Delete action; DeleteTable in that region deleted it already).
    /// What was on its way to it is dropped; a table left alone is global no more.
    pub(super) fn remove_replica(
        &mut self,
        region: &str,
        name: &str,
        now_ms: u64,
        delete_table: bool,
    ) -> Result<()> {
        if delete_table {
            let delete = TableNameInput {
                table_name: Some(name.to_string()),
            };
            self.engine_mut(region)
                .execute(Request::DeleteTable(delete), now_ms)?;
        }
        let Some(id) = self
            .membership
            .remove(&(region.to_string(), name.to_string()))
        else {
            return Ok(());
        };
        self.replication.drop_to(id, region);
        if let Some(group) = self.groups.get_mut(&id) {
            group.members.remove(region);
        }
        self.dissolve_drained();
        Ok(())
    }

    /// A global table left with one replica is regional again once the writes still on their
    /// way to it (a removed replica's last ones) have arrived.
    pub(super) fn dissolve_drained(&mut self) {
        let drained: Vec<u64> = self
            .groups
            .iter()
            .filter(|(id, g)| {
                g.members.len() <= 1 && g.remote.is_empty() && !self.replication.any_of(**id)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in drained {
            let Some(group) = self.groups.remove(&id) else {
                continue;
            };
            for last in group.members.keys() {
                self.membership.remove(&(last.clone(), group.name.clone()));
            }
        }
    }

    /// A request on a replica of a global table, from `region`: UpdateTable is refused while
    /// a replica is busy and for a stream change, and passed on to the others with Time to Live
    /// and GSI changes; DeleteTable removes the replica from the table.
    pub(super) fn execute_global(
        &mut self,
        region: &str,
        group: u64,
        request: Request,
        now_ms: u64,
    ) -> Result<Response> {
        let name = self.groups[&group].name.clone();
        let strong_members = {
            let g = &self.groups[&group];
            (g.strong && g.members.len() + usize::from(g.witness.is_some()) > 1).then_some(())
        };
        if matches!(request, Request::DeleteTable(_)) && strong_members.is_some() {
            return Err(Error::strong_partial_delete(&name));
        }
        if let Request::UpdateTable(input) = &request {
            self.check_table_ready(region, &name, now_ms)?;
            if input.stream_specification.is_some() {
                return Err(Error::replica_stream_change(&name));
            }
        }
        let passed_on = passed_on(&request, &name);
        let is_delete = matches!(request, Request::DeleteTable(_));
        let response = self.engine_mut(region).execute(request, now_ms)?;
        if is_delete {
            self.remove_replica(region, &name, now_ms, false)?;
        }
        if let Some(passed_on) = passed_on {
            let others: Vec<String> = self.groups[&group]
                .members
                .keys()
                .filter(|r| *r != region)
                .cloned()
                .collect();
            for other in others {
                // A replica already in that state (TTL enabled there too) has nothing to do.
                let _ = self.engine_mut(&other).execute(passed_on.clone(), now_ms);
            }
        }
        Ok(response)
    }

    /// A table description from `region`, with the global table's other replicas.
    pub(super) fn describe_replicas(
        &self,
        region: &str,
        mut response: Response,
        now_ms: u64,
    ) -> Response {
        let Response::Table(output) = &mut response else {
            return response;
        };
        let Some(description) = output.table.as_mut().or(output.table_description.as_mut()) else {
            return response;
        };
        let Some(group) = self.group_of(region, &description.table_name) else {
            return response;
        };
        let group = &self.groups[&group];
        if group.members.len() <= 1 {
            // The last replica, waiting for a removed one's last writes: regional again.
            return response;
        }
        let replicas = group
            .members
            .iter()
            .filter(|(r, _)| *r != region)
            .map(|(r, m)| self.describe_member(r, m, &group.name, now_ms))
            .collect();
        description.replicas = Some(replicas);
        description.global_table_version = Some(GLOBAL_TABLE_VERSION.into());
        let consistency = if group.strong { "STRONG" } else { "EVENTUAL" };
        description.multi_region_consistency = Some(consistency.into());
        description.global_table_witnesses = group.witness.as_ref().map(|w| {
            vec![WitnessDescription {
                region_name: w.clone(),
                witness_status: "ACTIVE".into(),
            }]
        });
        response
    }

    /// DescribeTableReplicaAutoScaling from `region`: every replica of the global table.
    pub(super) fn describe_replica_auto_scaling(
        &self,
        region: &str,
        mut response: Response,
        now_ms: u64,
    ) -> Response {
        let Response::ReplicaAutoScaling(output) = &mut response else {
            return response;
        };
        let description = &mut output.table_auto_scaling_description;
        let Some(group) = self.group_of(region, &description.table_name) else {
            return response;
        };
        let group = &self.groups[&group];
        for other in group.members.keys().filter(|r| *r != region) {
            let engine = &self.engines[other];
            if engine.table(&group.name).is_some() {
                let replica = crate::ops::describe_table_replica_auto_scaling::replica_auto_scaling(
                    engine,
                    &group.name,
                    now_ms,
                );
                description.replicas.push(replica);
            }
        }
        description
            .replicas
            .sort_by(|a, b| a.region_name.cmp(&b.region_name));
        response
    }

    fn describe_member(
        &self,
        region: &str,
        member: &Member,
        name: &str,
        now_ms: u64,
    ) -> ReplicaDescription {
        let engine = &self.engines[region];
        let status = engine.table(name).map_or("DELETING", |t| {
            t.status(now_ms, &engine.config().limits).name()
        });
        ReplicaDescription {
            region_name: region.to_string(),
            replica_status: status.to_string(),
            replica_status_percent_progress: (status == "CREATING").then(|| "0".into()),
            provisioned_throughput_override: member.read_override.map(|r| ReadCapacityOverride {
                read_capacity_units: Some(r),
            }),
            replica_table_class_summary: member.table_class_override.as_ref().map(|c| {
                TableClassSummary {
                    table_class: c.clone(),
                }
            }),
        }
    }
}

/// An MRSC table's regions are removed all at once (every other replica and the witness),
/// and none is added.
fn check_strong_removal(name: &str, group: &Group, asked: &Asked<'_>) -> Result<()> {
    let mut deleted = 0;
    for action in &asked.actions {
        match action {
            Action::Create(..) => return Err(Error::strong_unsupported(name, "Adding a replica")),
            Action::Delete(_) => deleted += 1,
            Action::Update(..) => {}
        }
    }
    let witness_removed = match (asked.witness, &group.witness) {
        (Some((true, _)), _) => return Err(Error::strong_unsupported(name, "Adding a witness")),
        (Some((false, w)), Some(current)) if w == current => true,
        (Some((false, w)), _) => return Err(Error::replica_not_found(name, w)),
        (None, _) => false,
    };
    let others = group.members.len() - 1;
    let everything = deleted == others && (witness_removed || group.witness.is_none());
    if (deleted > 0 || witness_removed) && !everything {
        return Err(Error::strong_partial_delete(name));
    }
    Ok(())
}

pub(super) fn member_of(versions: super::lww::Replica<Box<[u8]>, ()>) -> Member {
    Member {
        versions,
        read_override: None,
        table_class_override: None,
    }
}

fn new_and_old_images() -> StreamSpecificationInput {
    StreamSpecificationInput {
        stream_enabled: Some(true),
        stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
    }
}

fn ttl_input(name: &str, attribute: &str, enabled: bool) -> UpdateTimeToLiveInput {
    UpdateTimeToLiveInput {
        table_name: Some(name.to_string()),
        time_to_live_specification: Some(TimeToLiveSpecificationInput {
            enabled: Some(enabled),
            attribute_name: Some(attribute.to_string()),
        }),
    }
}

/// What a replica's region passes on to the other replicas of a request that succeeded:
/// UpdateTable's throughput, billing mode, table class and GSI changes (deletion protection
/// is each replica's own), and UpdateTimeToLive.
fn passed_on(request: &Request, name: &str) -> Option<Request> {
    match request {
        Request::UpdateTable(input) => {
            let update = UpdateTableInput {
                table_name: Some(name.to_string()),
                attribute_definitions: input.attribute_definitions.clone(),
                billing_mode: input.billing_mode.clone(),
                provisioned_throughput: input.provisioned_throughput.clone(),
                global_secondary_index_updates: input.global_secondary_index_updates.clone(),
                table_class: input.table_class.clone(),
                ..UpdateTableInput::default()
            };
            let changes = update.billing_mode.is_some()
                || update.provisioned_throughput.is_some()
                || update.global_secondary_index_updates.is_some()
                || update.table_class.is_some();
            changes.then_some(Request::UpdateTable(update))
        }
        Request::UpdateTimeToLive(input) => {
            let mut input = input.clone();
            input.table_name = Some(name.to_string());
            Some(Request::UpdateTimeToLive(input))
        }
        _ => None,
    }
}

fn keys_of(schema: &[KeySchemaOutput]) -> Vec<KeySchemaElement> {
    schema
        .iter()
        .map(|k| KeySchemaElement {
            attribute_name: Some(k.attribute_name.clone()),
            key_type: Some(k.key_type.clone()),
        })
        .collect()
}

/// A throughput to create with: none unless the table is PROVISIONED.
fn throughput_of(
    provisioned: bool,
    t: &ProvisionedThroughputDescription,
    read: Option<i64>,
) -> Option<ProvisionedThroughputInput> {
    provisioned.then(|| ProvisionedThroughputInput {
        read_capacity_units: Some(read.unwrap_or(t.read_capacity_units as i64)),
        write_capacity_units: Some(t.write_capacity_units as i64),
    })
}

/// CreateTable's index inputs for the indexes `list` describes.
fn indexes_of(provisioned: bool, list: &Option<Vec<IndexDescription>>) -> Option<Vec<IndexInput>> {
    list.as_ref().map(|list| {
        list.iter()
            .map(|i| IndexInput {
                index_name: Some(i.index_name.clone()),
                key_schema: Some(keys_of(&i.key_schema)),
                projection: Some(ProjectionInput {
                    projection_type: Some(i.projection.projection_type.clone()),
                    non_key_attributes: i.projection.non_key_attributes.clone(),
                }),
                provisioned_throughput: i
                    .provisioned_throughput
                    .as_ref()
                    .and_then(|t| throughput_of(provisioned, t, None)),
            })
            .collect()
    })
}

/// CreateTable for a replica of the table `description` describes.
fn create_input_of(
    description: &TableDescription,
    action: &ReplicaAction,
    stream: Option<StreamSpecificationInput>,
) -> CreateTableInput {
    let provisioned = description
        .billing_mode_summary
        .as_ref()
        .is_none_or(|b| b.billing_mode == "PROVISIONED");
    let read = action
        .provisioned_throughput_override
        .as_ref()
        .and_then(|o| o.read_capacity_units);
    CreateTableInput {
        table_name: Some(description.table_name.clone()),
        attribute_definitions: Some(
            description
                .attribute_definitions
                .iter()
                .map(|a| AttributeDefinition {
                    attribute_name: Some(a.attribute_name.clone()),
                    attribute_type: Some(a.attribute_type.clone()),
                })
                .collect(),
        ),
        key_schema: Some(keys_of(&description.key_schema)),
        billing_mode: description
            .billing_mode_summary
            .as_ref()
            .map(|b| b.billing_mode.clone()),
        provisioned_throughput: throughput_of(
            provisioned,
            &description.provisioned_throughput,
            read,
        ),
        local_secondary_indexes: indexes_of(provisioned, &description.local_secondary_indexes),
        global_secondary_indexes: indexes_of(provisioned, &description.global_secondary_indexes),
        stream_specification: stream,
        tags: None,
        table_class: action.table_class_override.clone().or_else(|| {
            description
                .table_class_summary
                .as_ref()
                .map(|c| c.table_class.clone())
        }),
        deletion_protection_enabled: None,
    }
}
