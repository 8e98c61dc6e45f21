//! Projections compiled from the catalog for the parts of a node that act on
//! it: the data plane's forwarding configuration and the EIP addresses the
//! leader must hold. Each is a pure function of the catalog at a revision.

pub mod dataplane;
pub mod eip_ownership;
