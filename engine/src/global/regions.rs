//! Several regions in one host (`dynasim serve`): each region its own engine, with its own
//! catalog, made when a request first names the region; and global tables between them.
//!
//! A request runs in its region's engine. The engines of regions that hold a replica journal
//! their changes; after each request and each timer the host takes them, stamps every item
//! change of a global table with its region's version (`lww::Replica::write`) and sends it to
//! the other replicas (`replication`). A write that arrives is applied only if its version is
//! newer than the item's there, so replicas converge whatever the delays and the clocks did.
//! Conditions and transactions are evaluated in the region of the request only.

use super::lww::{self, LwwBug};
use super::replication::{DEFAULT_REPLICATION_DELAY_MS, Delivery, Group, Latency, Replication};
use crate::api::*;
use crate::engine::{Config, Engine, table_name_of};
use crate::error::{Error, Result};
use crate::realism::profile::Profile;
use crate::storage::change::Change;
use std::collections::BTreeMap;

/// An MRSC item being modified: the region writing it, and until when.
type Modifying = (String, u64);

/// Regions one host makes engines for (a request scoped to yet another is refused: each is a
/// whole engine, kept for the host's life).
pub const REGIONS_MAX: usize = 64;

/// What DescribeTable reports of a global table.
pub const GLOBAL_TABLE_VERSION: &str = "2019.11.21";

/// The regions of one host and the global tables between them.
#[derive(Debug)]
pub struct Regions {
    /// What every region's engine is made from (its `region` replaced).
    template: Config,
    profile: Profile,
    seed: u64,
    default_region: String,
    pub(super) engines: BTreeMap<String, Engine>,
    /// Version ids of regions, in the order they were first named.
    region_ids: BTreeMap<String, lww::Region>,
    pub(super) groups: BTreeMap<u64, Group>,
    /// (region, table name) → the group it is a replica of.
    pub(super) membership: BTreeMap<(String, String), u64>,
    next_group: u64,
    pub(super) replication: Replication,
    /// Items of multi-Region strongly consistent tables being modified: (group, key) → the
    /// region writing and until when.
    modifying: BTreeMap<(u64, Box<[u8]>), Modifying>,
    /// With `--data-dir`: one region, no global tables (replication is not persisted).
    durable: bool,
    /// The versions stamped on local writes, kept when a host records them (the simulator's
    /// history).
    stamps: Option<Vec<Stamp>>,
}

/// A local write of a global table and the version it was stamped with.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    pub table: String,
    pub key: Box<[u8]>,
    pub item: Option<Box<[u8]>>,
    pub version: lww::Version,
    /// What the region had applied of every region's writes when it stamped this one: a
    /// write of another region is concurrent with this one if its sequence is past it.
    pub frontier: lww::Frontier,
}

impl Regions {
    /// A host whose first region is `engine`'s (`Config::region`), the others made like it,
    /// with `engine`'s profile and a seed derived from its seed and their name.
    pub fn new(engine: Engine) -> Regions {
        let template = engine.config.clone();
        let default_region = template.region.clone();
        let profile = engine.realism.profile.clone();
        let seed = engine.realism.seed;
        let global = profile.global_tables.clone();
        let delay = global
            .replication_delay_ms
            .unwrap_or(DEFAULT_REPLICATION_DELAY_MS);
        let mut regions = Regions {
            template,
            profile,
            seed,
            default_region: default_region.clone(),
            engines: BTreeMap::new(),
            region_ids: BTreeMap::new(),
            groups: BTreeMap::new(),
            membership: BTreeMap::new(),
            next_group: 0,
            modifying: BTreeMap::new(),
            replication: Replication::new(seed, delay, global.clock_offset_ms),
            durable: false,
            stamps: None,
        };
        regions.region_id(&default_region);
        regions.engines.insert(default_region, engine);
        regions
    }

    /// One region only, and no global tables: the host persists this region's engine.
    pub fn set_durable(&mut self) {
        self.durable = true;
    }

    /// Keeps every version stamped from now on, for [`take_stamps`](Self::take_stamps).
    pub fn record_stamps(&mut self) {
        self.stamps.get_or_insert_with(Vec::new);
    }

    pub fn take_stamps(&mut self) -> Vec<Stamp> {
        self.stamps.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A deliberately broken variant of the replication rules (tests only).
    pub fn set_bug(&mut self, bug: LwwBug) {
        self.replication.bug = bug;
    }

    pub fn default_region(&self) -> &str {
        &self.default_region
    }

    /// The default region's engine (what `--data-dir` persists).
    pub fn default_engine(&self) -> &Engine {
        &self.engines[&self.default_region]
    }

    pub fn default_engine_mut(&mut self) -> &mut Engine {
        self.engines
            .get_mut(&self.default_region)
            .expect("the default region's engine exists")
    }

    /// The engine of `region`, if a request named it.
    pub fn engine(&self, region: &str) -> Option<&Engine> {
        self.engines.get(region)
    }

    /// The engine of `region`, mutably, if a request named it (made by
    /// [`execute`](Self::execute), not here).
    pub fn engine_if_made(&mut self, region: &str) -> Option<&mut Engine> {
        self.engines.get_mut(region)
    }

    pub fn regions(&self) -> impl Iterator<Item = (&str, &Engine)> {
        self.engines.iter().map(|(name, e)| (name.as_str(), e))
    }

    /// The address DescribeEndpoints reports, in every region.
    pub fn set_endpoint_address(&mut self, address: String) {
        self.template.endpoint_address = address.clone();
        for engine in self.engines.values_mut() {
            engine.set_endpoint_address(address.clone());
        }
    }

    /// Replication latency by (table, source region, destination region).
    pub fn replication_latency(&self) -> Vec<(&str, &str, &str, &Latency)> {
        self.groups
            .values()
            .flat_map(|g| {
                g.latency
                    .iter()
                    .map(|((from, to), l)| (g.name.as_str(), from.as_str(), to.as_str(), l))
            })
            .collect()
    }

    /// Writes on their way between regions.
    pub fn replication_in_flight(&self) -> usize {
        self.replication.in_flight()
    }

    pub(super) fn region_id(&mut self, region: &str) -> lww::Region {
        let next = self.region_ids.values().max().map_or(0, |m| m + 1);
        *self.region_ids.entry(region.to_string()).or_insert(next)
    }

    /// Fixes `region`'s version id (hosts of one global table's regions must agree on them).
    pub(super) fn set_region_id(&mut self, region: &str, id: lww::Region) {
        self.region_ids.insert(region.to_string(), id);
    }

    /// The engine of `region`, made on first use.
    pub(super) fn engine_mut(&mut self, region: &str) -> &mut Engine {
        if !self.engines.contains_key(region) {
            self.region_id(region);
            let config = Config {
                region: region.to_string(),
                ..self.template.clone()
            };
            let seed = self.seed ^ xxhash_rust::xxh3::xxh3_64(region.as_bytes());
            let engine = Engine::with_profile(config, self.profile.clone(), seed);
            self.engines.insert(region.to_string(), engine);
        }
        self.engines.get_mut(region).expect("made above")
    }

    /// The global table `table` (a name or an ARN) of `region`, if it is one.
    pub(super) fn group_of(&self, region: &str, table: &str) -> Option<u64> {
        if self.membership.is_empty() {
            // No global table: nothing to build a key for (every request asks).
            return None;
        }
        let key = (region.to_string(), table_name_of(table).to_string());
        self.membership.get(&key).copied()
    }

    pub(super) fn new_group(&mut self, group: Group) -> u64 {
        let id = self.next_group;
        self.next_group += 1;
        self.groups.insert(id, group);
        id
    }

    /// What a multi-Region strongly consistent table refuses: transactions, Time to Live, and
    /// a write to an item another region is modifying.
    fn check_strong(&mut self, region: &str, request: &Request, now_ms: u64) -> Result<()> {
        if !self.groups.values().any(|g| g.strong) {
            // The common case: no MRSC table, so no key to decode again for the check.
            return Ok(());
        }
        let strong = |regions: &Regions, table: &str| {
            regions
                .group_of(region, table)
                .filter(|g| regions.groups[g].strong)
        };
        let transaction_tables: Vec<&str> = match request {
            Request::TransactWriteItems(input) => input
                .transact_items
                .iter()
                .flatten()
                .flat_map(|i| [&i.put, &i.update, &i.delete, &i.condition_check])
                .flatten()
                .filter_map(|a| a.table_name.as_deref())
                .collect(),
            Request::TransactGetItems(input) => input
                .transact_items
                .iter()
                .flatten()
                .filter_map(|i| i.get.as_ref()?.table_name.as_deref())
                .collect(),
            _ => Vec::new(),
        };
        if let Some(table) = transaction_tables
            .iter()
            .find(|t| strong(self, t).is_some())
        {
            return Err(Error::strong_unsupported(
                table_name_of(table),
                "A transaction",
            ));
        }
        if let Request::UpdateTimeToLive(input) = request
            && let Some(table) = input.table_name.as_deref()
            && strong(self, table).is_some()
        {
            return Err(Error::strong_unsupported(
                table_name_of(table),
                "Time to Live",
            ));
        }
        let Some((table, key)) = self.engine_mut(region).write_key(request) else {
            return Ok(());
        };
        let Some(group) = strong(self, &table) else {
            return Ok(());
        };
        match self.modifying.get(&(group, key)) {
            Some((writer, until)) if writer != region && *until > now_ms => {
                Err(Error::replicated_write_conflict())
            }
            _ => Ok(()),
        }
    }

    pub(super) fn durable(&self) -> bool {
        self.durable
    }

    /// Executes `request` in `region` at `now_ms`: writes due from other regions are applied
    /// first, the request's own item changes on global tables are sent on after.
    pub fn execute(&mut self, region: &str, request: Request, now_ms: u64) -> Result<Response> {
        if self.durable && region != self.default_region {
            return Err(Error::region_not_durable(region, &self.default_region));
        }
        if !self.engines.contains_key(region) && self.engines.len() >= REGIONS_MAX {
            return Err(Error::regions_exhausted(region, REGIONS_MAX));
        }
        self.deliver_due(now_ms);
        let global = request.table_name().and_then(|t| self.group_of(region, t));
        self.check_strong(region, &request, now_ms)?;
        let result = match (&request, global) {
            (Request::UpdateTable(input), _) if super::replicas::changes_replicas(input) => {
                self.update_replicas(region, input, now_ms)
            }
            (_, Some(group)) => self.execute_global(region, group, request, now_ms),
            _ => self.engine_mut(region).execute(request, now_ms),
        };
        self.replicate_changes(region, now_ms);
        result.map(|response| {
            let response = self.describe_replicas(region, response, now_ms);
            self.describe_replica_auto_scaling(region, response, now_ms)
        })
    }

    /// Finishes a transaction a profile's commit delay held (`Engine::finish_transaction`).
    pub fn finish_transaction(&mut self, region: &str, tx: u64, now_ms: u64) -> Result<Response> {
        self.deliver_due(now_ms);
        let result = self.engine_mut(region).finish_transaction(tx, now_ms);
        self.replicate_changes(region, now_ms);
        result
    }

    /// Every region's time-driven work due by `now_ms` (each engine's `handle_timeout`), the
    /// writes due from other regions, and the tombstones it is now safe to drop.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let names: Vec<String> = self.engines.keys().cloned().collect();
        for region in &names {
            self.engine_mut(region).handle_timeout(now_ms);
            self.replicate_changes(region, now_ms);
        }
        self.deliver_due(now_ms);
        for (id, group) in self.groups.iter_mut() {
            if !self.replication.from_departed(*id, &group.members) {
                group.drop_tombstones();
            }
        }
        self.dissolve_drained();
        self.modifying.retain(|_, (_, until)| *until > now_ms);
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.engines
            .values()
            .filter_map(Engine::poll_timeout)
            .chain(self.replication.next_due_ms())
            .min()
    }

    /// Stamps and sends the item changes `region` made to its global tables since the last
    /// call (its engine journals once it holds a replica).
    fn replicate_changes(&mut self, region: &str, now_ms: u64) {
        let Some(engine) = self.engines.get_mut(region) else {
            return;
        };
        if !engine.journaling() || self.durable {
            return;
        }
        let mut changes = Vec::new();
        engine.take_changes(&mut changes);
        let physical_ms = self.replication.physical_ms(region, now_ms);
        for change in changes {
            let Change::Item { table, key, item } = change else {
                continue;
            };
            let Some(id) = self.group_of(region, &table) else {
                continue;
            };
            let group = self.groups.get_mut(&id).expect("a member's group exists");
            let member = group.members.get_mut(region).expect("a member");
            let presence = item.is_some().then_some(());
            let version = member.versions.write(key.clone(), presence, physical_ms);
            if !group.remote.is_empty() {
                group.log.push(super::replication::Shipped {
                    key: key.clone(),
                    item: item.clone(),
                    version,
                    sent_ms: now_ms,
                });
            }
            if let Some(stamps) = &mut self.stamps {
                stamps.push(Stamp {
                    table: table.clone(),
                    key: key.clone(),
                    item: item.clone(),
                    version,
                    frontier: member.versions.frontier().clone(),
                });
            }
            let others: Vec<String> = group
                .members
                .keys()
                .filter(|r| *r != region)
                .cloned()
                .collect();
            let strong = group.strong;
            if strong {
                // Coordinated with the other regions before the answer: applied there now,
                // and the item is being modified for the coordination's drawn time.
                let until = now_ms + self.replication.draw_delay();
                let mark = (region.to_string(), until);
                self.modifying.insert((id, key.clone()), mark);
            }
            for to in others {
                let delivery = Delivery {
                    group: id,
                    from: region.to_string(),
                    to,
                    key: key.clone(),
                    item: item.clone(),
                    version,
                    sent_ms: now_ms,
                };
                if strong {
                    self.apply_delivery(delivery, now_ms);
                } else {
                    self.replication.send(delivery, now_ms);
                }
            }
        }
    }

    /// Applies the writes due by `now_ms` from other regions: each where its version is newer.
    fn deliver_due(&mut self, now_ms: u64) {
        for delivery in self.replication.take_due(now_ms) {
            self.apply_delivery(delivery, now_ms);
        }
    }

    /// Applies one write from another region where its version is newer than the item's.
    pub(super) fn apply_delivery(&mut self, delivery: Delivery, now_ms: u64) {
        {
            let Some(group) = self.groups.get_mut(&delivery.group) else {
                return;
            };
            let Some(member) = group.members.get_mut(&delivery.to) else {
                return;
            };
            let presence = delivery.item.is_some().then_some(());
            let newer = member
                .versions
                .apply(delivery.key.clone(), delivery.version, presence);
            let latency = now_ms.saturating_sub(delivery.sent_ms);
            group
                .latency
                .entry((delivery.from.clone(), delivery.to.clone()))
                .or_default()
                .record(latency);
            if !newer {
                return;
            }
            let name = group.name.clone();
            let engine = self.engine_mut(&delivery.to);
            // A table the destination deleted meanwhile has nothing to apply to.
            let _ = engine.apply_replicated(&name, &delivery.key, delivery.item.as_deref(), now_ms);
            engine.discard_changes();
        }
    }
}
