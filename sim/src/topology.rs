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
}

#[derive(Clone, Debug)]
pub struct Topology {
    pub regions: Vec<String>,
    pub storage: Vec<NodeInfo>,
    /// One router per zone of each region: index `region * zones + zone`.
    pub routers: Vec<NodeInfo>,
    pub clients: Vec<NodeInfo>,
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

fn ip(a: usize, b: usize, c: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, a as u8, b as u8, c as u8))
}

impl Topology {
    pub fn new(scenario: &Scenario) -> Topology {
        let d = &scenario.deployment;
        let regions: Vec<String> = REGION_NAMES[..d.regions]
            .iter()
            .map(|s| s.to_string())
            .collect();
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
                // Three consecutive zones, rotating with the group so leaders spread out.
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
            tables,
            groups,
            zones: d.zones,
        }
    }

    /// The partition (group) of a key: a hash of the partition key, as DynamoDB routes.
    pub fn group_of(&self, table: usize, key: &str) -> u32 {
        let groups = &self.tables[table].groups;
        let h = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        groups[(h % groups.len() as u64) as usize]
    }

    pub fn group_name(&self, group: u32) -> String {
        let g = &self.groups[group as usize];
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
