//! `ps --filter`: `status=STATE` (compose's one filter: paused, restarting, removing,
//! running, dead, created, exited), `label=KEY` (the label is set) and `label=KEY=VALUE`
//! (set to that value); several filters must all match.

use crate::api::types::ContainerView;

/// One parsed `--filter`.
#[derive(Debug, PartialEq, Eq)]
pub enum Filter {
    Label(String, Option<String>),
    Status(String),
}

/// The states compose's `ps --status`/`--filter status=` accepts (Docker's).
pub const STATUSES: [&str; 7] = [
    "paused",
    "restarting",
    "removing",
    "running",
    "dead",
    "created",
    "exited",
];

impl Filter {
    /// A status filter shows stopped containers without `-a`, as compose.
    pub fn is_status(&self) -> bool {
        matches!(self, Filter::Status(_))
    }
}

/// Parses every `--filter` value; an unknown kind is an error naming the ones there are.
pub fn parse(raw: &[String]) -> anyhow::Result<Vec<Filter>> {
    raw.iter()
        .map(|f| match f.split_once('=') {
            Some(("label", kv)) if !kv.is_empty() => Ok(match kv.split_once('=') {
                Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
                None => Filter::Label(kv.to_string(), None),
            }),
            Some(("status", s)) if STATUSES.contains(&s) => Ok(Filter::Status(s.to_string())),
            Some(("status", s)) => anyhow::bail!(
                "invalid filter \"status={s}\": the status is one of {}",
                STATUSES.join(", ")
            ),
            _ => anyhow::bail!(
                "invalid filter \"{f}\": rstack ps filters by status=STATE, label=KEY or label=KEY=VALUE"
            ),
        })
        .collect()
}

impl Filter {
    pub fn matches(&self, c: &ContainerView) -> bool {
        match self {
            Filter::Label(k, v) => c
                .labels
                .get(k)
                .is_some_and(|have| v.as_ref().is_none_or(|want| want == have)),
            // rstack's "starting" is Docker's "running" (its process is there).
            Filter::Status(s) => match c.state.as_str() {
                "starting" => s == "running",
                state => state == s,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_label_filters() {
        let f = parse(&["label=a".into(), "label=b=c=d".into()]).unwrap();
        assert_eq!(
            f,
            [
                Filter::Label("a".into(), None),
                Filter::Label("b".into(), Some("c=d".into()))
            ]
        );
        assert_eq!(
            parse(&["status=exited".into()]).unwrap(),
            [Filter::Status("exited".into())]
        );
        assert!(parse(&["status=bogus".into()]).is_err());
        assert!(parse(&["label=".into()]).is_err());
    }
}
