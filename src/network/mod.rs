//! Container networking on the host's kernel: bridges, veths, addresses, published ports and
//! the packet rules around them. `nft` describes and applies the daemon's nftables table
//! (DNAT of published ports, masquerade, isolation); `ports` holds host ports by bound sockets
//! so nothing else takes them while they are published.

pub mod nft;
pub mod ports;
