//! Global tables whose replicas live in different hosts (the simulator runs one region per
//! node): a host keeps its region's writes in a log, a remote replica pulls them from where its
//! frontier ends (so a lost message or a cut link only delays them), reporting its frontier
//! with each pull; the host drops from the log what every remote replica has applied and keeps
//! tombstones until the reports say no older write can still arrive.

use super::lww;
use super::regions::Regions;
use super::replication::{Group, PullRequest, Remote, Shipped};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

impl Regions {
    /// Makes `region`'s table `table` a replica of a global table whose other replicas are in
    /// other hosts. `regions` names every replica's region with its version id, the same in
    /// every host.
    pub fn join_remote(
        &mut self,
        region: &str,
        table: &str,
        regions: &[(&str, u32)],
    ) -> Result<()> {
        if self.engine(region).and_then(|e| e.table(table)).is_none() {
            return Err(Error::table_not_found(table));
        }
        if self.group_of(region, table).is_some() {
            return Err(Error::replica_already_exists(table, region));
        }
        let mut own = None;
        let mut remote = BTreeMap::new();
        for &(name, id) in regions {
            self.set_region_id(name, id);
            if name == region {
                own = Some(id);
            } else {
                let state = Remote {
                    id,
                    reported: lww::Frontier::new(),
                };
                remote.insert(name.to_string(), state);
            }
        }
        let own = own.ok_or_else(|| Error::table_not_found(table))?;
        let bug = self.replication.bug;
        let mut members = BTreeMap::new();
        let versions = lww::Replica::new(own, bug);
        members.insert(region.to_string(), super::replicas::member_of(versions));
        let id = self.new_group(Group {
            name: table.to_string(),
            members,
            latency: BTreeMap::new(),
            strong: false,
            witness: None,
            remote,
            log: Vec::new(),
        });
        self.membership
            .insert((region.to_string(), table.to_string()), id);
        let engine = self.engine_mut(region);
        engine.enable_journal();
        engine.discard_changes();
        Ok(())
    }

    /// The pull `region`'s replica of `table` sends to the replica in `from`.
    pub fn pull_request(&self, region: &str, table: &str, from: &str) -> Option<PullRequest> {
        let group = &self.groups[&self.group_of(region, table)?];
        let member = group.members.get(region)?;
        let source = group.remote.get(from)?;
        Some(PullRequest {
            table: table.to_string(),
            to: region.to_string(),
            from: from.to_string(),
            next_seq: member.versions.expects(source.id),
            frontier: member.versions.frontier().clone(),
        })
    }

    /// Answers a pull: at most `max` of this region's writes from the pull's `next_seq` on.
    /// The pull's frontier is recorded as the asker's report, and the log keeps only what some
    /// remote replica has yet to apply.
    pub fn answer_pull(&mut self, pull: &PullRequest, max: usize) -> Vec<Shipped> {
        let Some(id) = self.group_of(&pull.from, &pull.table) else {
            return Vec::new();
        };
        let group = self.groups.get_mut(&id).expect("a member's group");
        let Some(own) = group.members.get(&pull.from).map(|m| m.versions.region) else {
            return Vec::new();
        };
        if let Some(asker) = group.remote.get_mut(&pull.to) {
            asker.reported = pull.frontier.clone();
        }
        let applied_everywhere = group
            .remote
            .values()
            .map(|r| r.reported.get(&own).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        group
            .log
            .retain(|s| s.version.region != own || s.version.seq > applied_everywhere);
        group
            .log
            .iter()
            .filter(|s| s.version.region == own && s.version.seq >= pull.next_seq)
            .take(max)
            .cloned()
            .collect()
    }

    /// This region's writes of `table` from sequence `from_seq` on, as a host pushes them to
    /// the other regions (no report is recorded, unlike a pull's).
    pub fn log_from(&self, region: &str, table: &str, from_seq: u64) -> Vec<Shipped> {
        let Some(id) = self.group_of(region, table) else {
            return Vec::new();
        };
        self.groups[&id]
            .log
            .iter()
            .filter(|s| s.version.seq >= from_seq)
            .cloned()
            .collect()
    }

    /// How far `region`'s replica of `table` has applied `from`'s writes.
    pub fn applied_from(&self, region: &str, table: &str, from: &str) -> u64 {
        let Some(id) = self.group_of(region, table) else {
            return 0;
        };
        let group = &self.groups[&id];
        let (Some(member), Some(source)) = (group.members.get(region), group.remote.get(from))
        else {
            return 0;
        };
        member.versions.expects(source.id) - 1
    }

    /// Applies what a pull brought from `from` to `region`'s replica of `table`: each write
    /// that is the next in `from`'s sequence (a duplicate or a stale answer is ignored).
    pub fn apply_shipped(
        &mut self,
        region: &str,
        table: &str,
        from: &str,
        shipped: Vec<Shipped>,
        now_ms: u64,
    ) {
        let Some(id) = self.group_of(region, table) else {
            return;
        };
        for write in shipped {
            let group = self.groups.get_mut(&id).expect("a member's group");
            let Some(member) = group.members.get_mut(region) else {
                return;
            };
            if write.version.seq != member.versions.expects(write.version.region) {
                continue;
            }
            let delivery = super::replication::Delivery {
                group: id,
                from: from.to_string(),
                to: region.to_string(),
                key: write.key,
                item: write.item,
                version: write.version,
                sent_ms: write.sent_ms,
            };
            self.apply_delivery(delivery, now_ms);
        }
    }
}
