//! Container networking owned by the daemon: the embedded DNS resolver (`dns`), and the bridge,
//! veth, address pool and published-port pieces as they land. Kernel calls are allowed here (see
//! ARCHITECTURE.md's layering), nowhere in the pure spec/model/graph/plan modules.

pub mod dns;
