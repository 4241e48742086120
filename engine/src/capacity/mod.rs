//! Capacity: unit math and `ConsumedCapacity` (`units`), admission control and throttling
//! (`admission`), global secondary indexes' own partitions (`index_partitions`), target-tracking auto scaling (`autoscaling`), and the CloudWatch-style
//! series and Contributor Insights (`metrics`).

pub mod admission;
pub mod autoscaling;
pub mod charging;
pub mod index_partitions;
pub mod metrics;
pub mod throughput;
pub mod units;
