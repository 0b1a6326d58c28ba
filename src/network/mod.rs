//! Container networking owned by the daemon, on the host's kernel: each network's bridge and
//! address range (`ipam`, `manager`), the embedded DNS resolver (`dns`), the nftables table
//! (`nft`: DNAT of published ports, masquerade, isolation) and host ports held by bound
//! sockets while they are published (`ports`), whose stale UDP flows are forgotten when a
//! container comes behind them (`conntrack`). The container's side of a veth is made by the
//! shim (`runtime::netns`), through the same netlink client (`runtime::netlink`).

pub mod conntrack;
pub mod dns;
pub mod files;
pub mod files_spare;
pub mod ipam;
pub mod ipam6;
pub mod manager;
pub mod netdef;
pub mod nft;
pub mod nft6;
pub mod ports;
pub mod ports6;

pub use manager::{CreateOptions, Endpoint, NetError, NetworkManager, NetworkRecord, Published};
