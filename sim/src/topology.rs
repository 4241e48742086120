//! Where everything runs: regions × zones × storage nodes, a request router per zone, a client
//! node per region, and the placement of every partition's three replicas (three zones of the
//! table's home region).

use crate::scenario::Scenario;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub const PORT: u16 = 7000;

#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    pub region: usize,
    pub zone: usize,
    pub ip: IpAddr,
}

impl NodeInfo {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, PORT)
    }
}

#[derive(Clone, Debug)]
pub struct TableInfo {
    pub name: String,
    pub region: usize,
    /// Global group numbers of the table's partitions.
    pub groups: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub table: usize,
    pub partition: usize,
    /// Storage node index of each replica (replica id = position).
    pub replicas: [usize; 3],
    /// False for a group a split will create, until the split is applied.
    pub created: bool,
}

#[derive(Clone, Debug)]
pub struct Topology {
    pub regions: Vec<String>,
    pub storage: Vec<NodeInfo>,
    /// One router per zone of each region: index `region * zones + zone`.
    pub routers: Vec<NodeInfo>,
    pub clients: Vec<NodeInfo>,
    /// The change-feed components, each on a node of its own in the first region's first
    /// zone: the stream publisher, the index propagator and the TTL sweeper, as the
    /// deployment has them.
    pub feeds: Vec<(FeedComponent, NodeInfo)>,
    /// Transaction coordinators, each on a node of its own in the first region.
    pub coordinators: Vec<NodeInfo>,
    pub tables: Vec<TableInfo>,
    pub groups: Vec<GroupInfo>,
    pub zones: usize,
}

pub const REGION_NAMES: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "ap-northeast-1",
    "sa-east-1",
];

/// A change-feed component: a node that consumes every partition's committed changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedComponent {
    /// Publishes the tables' streams.
    StreamPublisher,
    /// Keeps the tables' global secondary indexes and answers index queries.
    IndexPropagator,
    /// Deletes expired items (Time to Live).
    TtlSweeper,
}

impl FeedComponent {
    pub fn name(self) -> &'static str {
        match self {
            FeedComponent::StreamPublisher => "stream-publisher",
            FeedComponent::IndexPropagator => "index-propagator",
            FeedComponent::TtlSweeper => "ttl-sweeper",
        }
    }
}

/// The deployment's change-feed components, each on its own node of the first region.
fn feed_nodes(d: &crate::scenario::Deployment) -> Vec<(FeedComponent, NodeInfo)> {
    let mut feeds = Vec::new();
    for (on, component) in [
        (d.stream_publisher, FeedComponent::StreamPublisher),
        (d.index_propagator, FeedComponent::IndexPropagator),
        (d.ttl_sweeper, FeedComponent::TtlSweeper),
    ] {
        if on {
            let node = NodeInfo {
                name: component.name().to_string(),
                region: 0,
                zone: 0,
                ip: ip(1, 210 + feeds.len(), 1),
            };
            feeds.push((component, node));
        }
    }
    feeds
}

/// The deployment's transaction coordinators, each on its own node of the first region.
fn coordinator_nodes(d: &crate::scenario::Deployment) -> Vec<NodeInfo> {
    (0..d.coordinators)
        .map(|c| NodeInfo {
            name: format!("coordinator-{c}"),
            region: 0,
            zone: c % d.zones,
            ip: ip(1, 230 + c, 1),
        })
        .collect()
}

fn ip(a: usize, b: usize, c: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, a as u8, b as u8, c as u8))
}

impl Topology {
    /// The layout of `scenario`: a partition's replicas sit in three consecutive zones,
    /// rotating with the group so that leaders spread out.
    pub fn new(scenario: &Scenario) -> Topology {
        let d = &scenario.deployment;
        let regions = REGION_NAMES[..d.regions].iter().map(|s| s.to_string());
        let regions: Vec<String> = regions.collect();
        let mut storage = Vec::new();
        let mut routers = Vec::new();
        let mut clients = Vec::new();
        for (r, region) in regions.iter().enumerate() {
            for z in 0..d.zones {
                let zone = format!("{region}{}", (b'a' + z as u8) as char);
                for s in 0..d.nodes_per_zone {
                    storage.push(NodeInfo {
                        name: format!("storage-{zone}-{s}"),
                        region: r,
                        zone: z,
                        ip: ip(r + 1, z + 1, s + 1),
                    });
                }
                routers.push(NodeInfo {
                    name: format!("router-{zone}"),
                    region: r,
                    zone: z,
                    ip: ip(r + 1, z + 1, 100),
                });
            }
            clients.push(NodeInfo {
                name: format!("client-{region}"),
                region: r,
                zone: 0,
                ip: ip(r + 1, 200, 1),
            });
        }
        let mut tables = Vec::new();
        let mut groups = Vec::new();
        for (t, w) in scenario.workloads.iter().enumerate() {
            let region = w.region.unwrap_or(t % d.regions);
            let mut ids = Vec::new();
            for p in 0..d.partitions {
                let id = groups.len() as u32;
                let mut replicas = [0; 3];
                for (i, slot) in replicas.iter_mut().enumerate() {
                    let zone = (id as usize + i) % d.zones;
                    let node = (id as usize / d.zones) % d.nodes_per_zone;
                    *slot = (region * d.zones + zone) * d.nodes_per_zone + node;
                }
                groups.push(GroupInfo {
                    table: t,
                    partition: p,
                    replicas,
                    created: true,
                });
                ids.push(id);
            }
            tables.push(TableInfo {
                name: w.name.clone(),
                region,
                groups: ids,
            });
        }
        Topology {
            regions,
            storage,
            routers,
            clients,
            feeds: feed_nodes(d),
            coordinators: coordinator_nodes(d),
            tables,
            groups,
            zones: d.zones,
        }
    }

    /// The position of `component` among the deployment's change-feed components.
    pub fn feed(&self, component: FeedComponent) -> Option<usize> {
        self.feeds.iter().position(|(c, _)| *c == component)
    }

    pub fn group_name(&self, placement: &Placement, group: u32) -> String {
        let g = &placement.groups[group as usize];
        format!("{}#p{}", self.tables[g.table].name, g.partition)
    }

    /// The region of an address (its second octet).
    pub fn region_of(addr: &SocketAddr) -> usize {
        match addr.ip() {
            IpAddr::V4(v4) => v4.octets()[1] as usize - 1,
            IpAddr::V6(_) => 0,
        }
    }

    pub fn router_for(&self, table: usize, process: u64) -> SocketAddr {
        let region = self.tables[table].region;
        self.routers[region * self.zones + (process as usize % self.zones)].addr()
    }
}

/// The hash of a partition key: partitions own ranges of it.
pub fn key_hash(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// A range of key hashes `[lo, hi)`; `hi == u64::MAX` reaches the end.
pub type Range = (u64, u64);

pub fn in_range(hash: u64, (lo, hi): Range) -> bool {
    hash >= lo && (hash < hi || hi == u64::MAX)
}

/// The partition map: every replica group (including those splits created) and, per table,
/// the start of each partition's hash range. The routers' metadata.
#[derive(Clone, Debug)]
pub struct Placement {
    pub groups: Vec<GroupInfo>,
    /// Per table: (first hash, group), sorted by hash.
    pub maps: Vec<Vec<(u64, u32)>>,
}

impl Placement {
    pub fn new(topology: &Topology) -> Placement {
        let maps = topology
            .tables
            .iter()
            .map(|t| {
                let n = t.groups.len() as u64;
                t.groups
                    .iter()
                    .enumerate()
                    .map(|(i, &g)| ((u64::MAX / n) * i as u64, g))
                    .collect()
            })
            .collect();
        Placement {
            groups: topology.groups.clone(),
            maps,
        }
    }

    pub fn group_of(&self, table: usize, key: &str) -> u32 {
        let map = &self.maps[table];
        let h = key_hash(key);
        let i = map.partition_point(|&(start, _)| start <= h);
        map[i.saturating_sub(1)].1
    }

    /// The hash range a group owns, by the map.
    pub fn range_of(&self, table: usize, group: u32) -> Range {
        let map = &self.maps[table];
        let i = map.iter().position(|&(_, g)| g == group).unwrap_or(0);
        let hi = map.get(i + 1).map_or(u64::MAX, |&(start, _)| start);
        (map[i].0, hi)
    }

    /// The created group of `table` with the widest range, and the middle of that range.
    pub fn widest(&self, table: usize) -> Option<(u32, u64)> {
        let map = &self.maps[table];
        (0..map.len())
            .map(|i| {
                let (lo, g) = map[i];
                let hi = map.get(i + 1).map_or(u64::MAX, |&(s, _)| s);
                (hi - lo, g, lo + (hi - lo) / 2)
            })
            .filter(|&(width, _, _)| width > 1)
            .max_by_key(|&(width, g, _)| (width, std::cmp::Reverse(g)))
            .map(|(_, g, mid)| (g, mid))
    }

    /// Records a split applied by a replica: `new_group` owns `[mid, ...)` of its parent's range.
    pub fn split(&mut self, table: usize, mid: u64, new_group: u32) {
        let group = &mut self.groups[new_group as usize];
        if group.created {
            return;
        }
        group.created = true;
        assert_eq!(
            group.table, table,
            "a split creates a group of the table it splits"
        );
        let map = &mut self.maps[table];
        let at = map.partition_point(|&(start, _)| start <= mid);
        assert!(
            at > 0,
            "the split point lies inside a partition, not before the first"
        );
        assert_ne!(
            map[at - 1].0,
            mid,
            "the split point is not a partition's start"
        );
        map.insert(at, (mid, new_group));
        assert!(
            map.windows(2).all(|w| w[0].0 < w[1].0),
            "partition starts stay strictly increasing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement() -> (Topology, Placement) {
        let scenario = Scenario::parse(
            "name = \"p\"\n[deployment]\npartitions = 3\n[[workload]]\nkind = \"scan\"\nkeys = 64\n",
        )
        .unwrap();
        let topology = Topology::new(&scenario);
        let placement = Placement::new(&topology);
        (topology, placement)
    }

    /// Every key lands in the group whose range holds its hash.
    fn assert_tiled(placement: &Placement) {
        for k in 0..500 {
            let key = format!("scan0/{k}");
            let group = placement.group_of(0, &key);
            assert!(
                in_range(key_hash(&key), placement.range_of(0, group)),
                "{key} routed outside its group's range"
            );
        }
    }

    #[test]
    fn splits_keep_the_key_space_tiled_and_move_the_upper_half() {
        let (_, mut placement) = placement();
        assert_eq!(placement.maps[0].len(), 3);
        assert_eq!(
            placement.maps[0][0].0, 0,
            "the first partition starts at hash 0"
        );
        assert_tiled(&placement);
        let (parent, mid) = placement.widest(0).unwrap();
        let (lo, hi) = placement.range_of(0, parent);
        assert_eq!(mid, lo + (hi - lo) / 2);
        // The control plane names the new group; the map changes when it is applied.
        let new_group = placement.groups.len() as u32;
        placement.groups.push(GroupInfo {
            created: false,
            ..placement.groups[parent as usize].clone()
        });
        placement.split(0, mid, new_group);
        assert_eq!(placement.range_of(0, parent), (lo, mid));
        assert_eq!(placement.range_of(0, new_group), (mid, hi));
        assert_tiled(&placement);
        // Applying the same split again (another replica) changes nothing.
        let before = placement.maps.clone();
        placement.split(0, mid, new_group);
        assert_eq!(placement.maps, before);
        // The widest partition is now another one.
        assert_ne!(placement.widest(0).unwrap().0, parent);
    }
}
