//! A service container's replica number, from its name (`PROJECT-SERVICE-N`), for the
//! commands that take `--index`.
//!
//! A container named by `container_name` (which allows one replica) is replica 1, as in
//! the daemon's `plan::replica_number` (which the CLI may not import).

/// The replica number of container `name` of `service` in `project`.
pub fn number(name: &str, project: &str, service: &str) -> u32 {
    name.strip_prefix(project)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(service))
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn generated_names_carry_the_number_and_container_name_is_one() {
        assert_eq!(number("demo-web-3", "demo", "web"), 3);
        assert_eq!(number("demo-web-1", "demo", "web"), 1);
        assert_eq!(number("my-own-name", "demo", "web"), 1);
        // A service whose name ends like another's number is not confused with it.
        assert_eq!(number("demo-web-2-1", "demo", "web-2"), 1);
    }
}
