//! The value types every other module works with: 38-digit numbers, attribute values, items,
//! key schemas and the stored encodings of keys and items. Errors refer to items (a failed
//! condition can return the old item), so the `error` ↔ `types` dependency stays inside this
//! leaf cluster.

pub mod encoding;
pub mod index_keys;
pub mod item;
pub mod keys;
pub mod number;
pub mod value;
