//! A network's definition as the stack file gives it, and its hash: a network made for a
//! stack records the hash of the definition it was made from, so a later `up` with a changed
//! definition (`ipam` subnet, `internal`, `labels`...) finds it diverged and makes it again,
//! as compose does with its `com.docker.compose.config-hash` network label.

use super::manager::CreateOptions;
use crate::runtime::config::NetAttach;
use sha2::{Digest, Sha256};

/// What `a` asks a network to be made with.
pub fn create_options(a: &NetAttach) -> CreateOptions {
    CreateOptions {
        name: a.name.clone(),
        subnet: a.subnet.clone(),
        gateway: a.gateway.clone(),
        ip_range: a.ip_range.clone(),
        internal: a.internal,
        attachable: a.attachable,
        labels: a.labels.clone(),
        enable_ipv6: a.enable_ipv6,
        subnet6: a.subnet6.clone().filter(|_| a.enable_ipv6),
        gateway6: a.gateway6.clone().filter(|_| a.enable_ipv6),
        ip_range6: a.ip_range6.clone().filter(|_| a.enable_ipv6),
    }
}

/// The hash of a definition: the same options give the same hash (labels are sorted).
pub fn definition_hash(o: &CreateOptions) -> String {
    // Serializing plain data cannot fail; an empty fallback still hashes deterministically.
    let bytes = serde_json::to_vec(o).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Whether a network recorded with `recorded` (empty: made before hashes were kept, or by
/// a daemon that did not keep them) differs from `want`. An unknown hash is taken as equal,
/// as compose takes a network without its label: nothing is recreated after an upgrade.
pub fn diverges(recorded: &str, want: &CreateOptions) -> bool {
    !recorded.is_empty() && recorded != definition_hash(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CreateOptions {
        CreateOptions {
            name: "p_back".into(),
            subnet: Some("10.77.0.0/24".into()),
            ..CreateOptions::default()
        }
    }

    #[test]
    fn same_definition_does_not_diverge() {
        let h = definition_hash(&opts());
        assert!(!diverges(&h, &opts()));
    }

    #[test]
    fn each_changed_field_diverges() {
        let h = definition_hash(&opts());
        type Change = Box<dyn Fn(&mut CreateOptions)>;
        let changes: Vec<Change> = vec![
            Box::new(|o| o.subnet = Some("10.78.0.0/24".into())),
            Box::new(|o| o.subnet = None),
            Box::new(|o| o.gateway = Some("10.77.0.254".into())),
            Box::new(|o| o.ip_range = Some("10.77.0.128/25".into())),
            Box::new(|o| o.internal = true),
            Box::new(|o| o.attachable = true),
            Box::new(|o| {
                o.labels.insert("team".into(), "blue".into());
            }),
        ];
        for change in changes {
            let mut o = opts();
            change(&mut o);
            assert!(diverges(&h, &o), "{o:?}");
        }
    }

    #[test]
    fn ipv4_hash_is_unchanged_by_the_ipv6_options() {
        // The JSON an IPv4 network's hash is made from has no IPv6 key: networks made
        // before dual stack existed are not found diverged after an upgrade.
        let json = serde_json::to_string(&opts()).unwrap();
        assert!(
            !json.contains("ipv6") && !json.contains("subnet6"),
            "{json}"
        );
        let mut o = opts();
        o.enable_ipv6 = true;
        assert!(diverges(&definition_hash(&opts()), &o));
    }

    #[test]
    fn label_order_does_not_matter() {
        let mut a = opts();
        a.labels.insert("a".into(), "1".into());
        a.labels.insert("b".into(), "2".into());
        let mut b = opts();
        b.labels.insert("b".into(), "2".into());
        b.labels.insert("a".into(), "1".into());
        assert_eq!(definition_hash(&a), definition_hash(&b));
    }

    #[test]
    fn a_record_without_hash_never_diverges() {
        let mut o = opts();
        o.internal = true;
        assert!(!diverges("", &o));
    }

    #[test]
    fn options_come_from_the_attachment() {
        let a = NetAttach {
            name: "p_x".into(),
            internal: true,
            subnet: Some("10.9.0.0/24".into()),
            ..NetAttach::default()
        };
        let o = create_options(&a);
        assert_eq!(o.name, "p_x");
        assert!(o.internal);
        assert_eq!(o.subnet.as_deref(), Some("10.9.0.0/24"));
    }
}
