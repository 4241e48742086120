//! stateright models built from the engine's transaction and replication state machines.
//!
//! Nothing lives here yet: the engine has no replication or transaction state machines to
//! explore until later issues add them.
